// `convguard merge`: stores of the shards of a sweep, or of different machines, into one.
#include <fmt/format.h>

#include <memory>

#include "cli/cli.h"
#include "convguard/merge.h"

namespace convguard::cli {
namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string out;
  bool force = false;
};

int merge_main(const MergeArgs& a) {
  auto sum = merge_stores(a.inputs, a.out, a.force);
  if (!sum.ok()) return report_error(sum.status());
  fmt::print("wrote {}: {} store(s), {} run(s), {} probe(s), {} conclusion(s) added", a.out,
             a.inputs.size(), sum->runs, sum->probes, sum->conclusions);
  if (sum->duplicates) fmt::print("; {} probe(s) already there", sum->duplicates);
  if (sum->conflicts)
    fmt::print(
        "; {} probe(s) disagree with another run's result of the same key and were kept "
        "as later attempts",
        sum->conflicts);
  fmt::print("\n");
  return kExitOk;
}

}  // namespace

Command merge_command() {
  return {"merge",
          "Merge stores (the shards of a sweep, or other machines') into one; nothing is "
          "overwritten",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<MergeArgs>();
            sub.add_option("stores", a->inputs, "the stores to merge, read-only")->required();
            sub.add_option("-o,--out", a->out, "the store to write")->required();
            sub.add_flag("--force", a->force, "replace -o if it exists (it may be an input)");
            return [a] { return merge_main(*a); };
          }};
}

}  // namespace convguard::cli

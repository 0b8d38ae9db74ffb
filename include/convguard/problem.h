// The problem model: one 2-D convolution, its benchdnn text form, and
// the parsers for benchdnn batch files and MIOpenDriver command lines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "convguard/status.h"

namespace convguard {

/// benchdnn's directions. FWD_B is forward with bias, BWD_WB backward weights with bias.
enum class Dir { FWD_D, FWD_B, BWD_D, BWD_W, BWD_WB };
enum class DataType { f32, f16, bf16 };
/// Memory layout the engine is asked to use for src/dst (weights follow the engine's
/// natural choice for that layout). Host-side tensors are always canonical (see engine.h).
enum class Layout { nchw, nhwc };

const char* to_string(Dir d);
const char* to_string(DataType t);
const char* to_string(Layout l);
/// Parse "FWD_D" (case-insensitive), "f32", "nchw"/"abx"/"nhwc"/"axb". Errors name `field`.
Result<Dir> parse_dir(std::string_view s, std::string_view field = "dir");
Result<DataType> parse_dt(std::string_view s, std::string_view field = "dt");
Result<Layout> parse_layout(std::string_view s, std::string_view field = "layout");
/// Bytes of one element of `t`.
int dt_size(DataType t);

/// One convolution. Fields follow benchdnn: dilation 0 means dense; weights are
/// (g, oc/g, ic/g, kh, kw). A Problem built by the parsers is complete (every field
/// deduced) and valid; one built by hand should pass validate() before use.
struct Problem {
  Dir dir = Dir::FWD_B;  // benchdnn's default
  DataType dt = DataType::f32;
  Layout layout = Layout::nchw;
  int64_t g = 1, mb = 2;  // benchdnn's default minibatch is 2
  int64_t ic = 0, ih = 0, iw = 0;
  int64_t oc = 0, oh = 0, ow = 0;
  int64_t kh = 0, kw = 0;
  int64_t sh = 1, sw = 1;
  int64_t ph = 0, pw = 0;
  int64_t dh = 0, dw = 0;
  std::string name;  ///< benchdnn's n"..." label; not part of the key

  bool operator==(const Problem&) const = default;

  bool has_bias() const { return dir == Dir::FWD_B || dir == Dir::BWD_WB; }
  int64_t src_elems() const { return mb * ic * ih * iw; }
  int64_t wei_elems() const { return oc * (ic / g) * kh * kw; }
  int64_t dst_elems() const { return mb * oc * oh * ow; }
  /// 2 * multiply-adds of the direct algorithm; the same for every direction.
  double flops() const;
};

/// Output size benchdnn deduces: (i - ((k - 1) * (d + 1) + 1) + 2 * p) / s + 1.
/// 0 when a field is outside validate()'s range (negative, above 2^31-1, or s < 1).
int64_t conv_out_size(int64_t i, int64_t k, int64_t s, int64_t p, int64_t d);

/// Checks consistency. Messages name the field and value, e.g.
/// "invalid oh=43: expected 44 for ih=44 kh=3 sh=1 ph=1 dh=0".
Status validate(const Problem& p);

/// The shape part in benchdnn syntax, every field spelled out, name last:
/// g1mb1ic16ih44iw44oc32oh44ow44kh3kw3sh1sw1ph1pw1dh0dw0n"label".
std::string descriptor(const Problem& p, bool with_name = true);
/// The canonical key used by the store, profiles and reports: knobs and descriptor, no name,
/// e.g. "--dir=FWD_D --dt=f32 g1mb1ic16ih44iw44oc32oh44ow44kh3kw3sh1sw1ph1pw1dh0dw0".
/// NHWC problems add "--stag=axb --dtag=axb" after --dt.
std::string key(const Problem& p);
/// key() plus the name; parse_problem(to_string(p)) == p.
std::string to_string(const Problem& p);

/// Parse a benchdnn descriptor ("mb1ic16ih44oc32kh3ph1", "_" delimiters allowed)
/// with benchdnn's defaults and deductions, applying it on top of `base` for
/// dir/dt/layout/mb knobs (base.mb is the minibatch when the descriptor has no mb).
/// Rejects 3-D and 1-D by name. The result is validated. Departures from benchdnn:
/// padding deduced from a given output is symmetric (benchdnn's value or the next one,
/// whichever gives that output; otherwise an error), a field given twice is an error,
/// and an explicit sw/pw that contradicts the square promotion from h is an error.
Result<Problem> parse_descriptor(std::string_view text, const Problem& base = {});
/// Parse knobs followed by a descriptor, as key()/to_string() print them; also accepts
/// a bare descriptor. Knobs as apply_knob, one value each; --mb= overrides the
/// descriptor's mb. A leading "benchdnn" path and --conv are accepted.
Result<Problem> parse_problem(std::string_view text, const Problem& base = {});

/// Options a batch file or a command line sets for the descriptors after it.
/// Lists (e.g. --dir=FWD_D,BWD_D) expand to the cartesian product, as in benchdnn.
struct Knobs {
  std::vector<Dir> dirs{Dir::FWD_B};
  std::vector<DataType> dts{DataType::f32};
  std::vector<Layout> layouts{Layout::nchw};
  int64_t mb = 0;  ///< 0: keep the descriptor's
};

/// Applies one benchdnn knob word to `knobs`: --dir=, --dt=, --cfg= (f32|f16|bf16),
/// --stag=/--dtag= (abx|axb|nchw|nhwc|any), --mb=, --reset (knobs = `defaults`); --conv
/// and --wtag= are accepted and change nothing. Transposed convolution (--deconv,
/// --prim=deconv) is rejected as "not supported"; unknown knobs name themselves.
Status apply_knob(std::string_view word, Knobs& knobs, const Knobs& defaults);

/// Splits `line` into words at white space outside double quotes (the quotes stay in
/// the word, so n"my layer" is one word). With `hash_comments`, '#' outside quotes ends
/// the line. An unterminated quote is an error.
Result<std::vector<std::string>> split_words(std::string_view line, bool hash_comments);

/// Parse a benchdnn batch text: descriptor lines, '#' comments, knob lines
/// (--dir=, --dt=, --mb=, --stag=, --dtag=, --reset) and nested --batch=FILE resolved
/// against `base_dir`. Errors carry "FILE:LINE". `origin` names the text in messages.
/// Knobs and descriptors may share a line ("--dir=BWD_D mb1ic3ih5oc4kh3"). As in
/// benchdnn, knobs set inside a nested file stay in effect after it; --reset restores
/// `knobs` as passed here. Each descriptor yields dirs x dts x layouts problems, in that order.
Result<std::vector<Problem>> parse_batch_text(std::string_view text, const Knobs& knobs,
                                              const std::string& base_dir,
                                              const std::string& origin);
Result<std::vector<Problem>> parse_batch_file(const std::string& path, const Knobs& knobs);

/// Parse a MIOpenDriver command line ("conv -n 1 -c 16 -H 44 ..."), with MIOpen's
/// defaults, dilation 1 = dense, -F 0 (all), 1 fwd, 2 bwd data, 4 bwd weights and
/// their sums expanding to several problems. "MIOpenDriver" in front is accepted.
Result<std::vector<Problem>> parse_driver_cmd(std::string_view cmd);

}  // namespace convguard

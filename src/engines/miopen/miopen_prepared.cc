// Preparing a solution (compile, MIOpen's first choice, or Find) and running it through the
// immediate-mode call, with guard-banded output and workspace.
#include "engines/miopen/miopen_prepared.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "engines/miopen/miopen_solvers.h"

namespace convguard::miopen {
namespace {

bool forward(Dir d) { return d == Dir::FWD_D || d == Dir::FWD_B; }

// The args in the order of the solution and immediate calls (A, B, C): forward w, x, y;
// backward data dy, w, dx; backward weights dy, x, dw. C is the convolution's output.
std::array<Arg, 3> solution_order(Dir d) {
  if (forward(d)) return {Arg::wei, Arg::src, Arg::dst};
  if (d == Dir::BWD_D) return {Arg::dst, Arg::wei, Arg::src};
  return {Arg::dst, Arg::src, Arg::wei};
}

// The args in the order of the Find calls (P, Q, R): forward x, w, y; backward data dy, w,
// dx; backward weights dy, x, dw.
std::array<Arg, 3> find_order(Dir d) {
  if (forward(d)) return {Arg::src, Arg::wei, Arg::dst};
  return solution_order(d);
}

// MIOPEN_FIND_MODE set for the duration of one Find call, then restored.
class FindModeEnv {
 public:
  explicit FindModeEnv(const char* mode) {
    if (const char* old = std::getenv(kVar)) old_ = old;
    had_ = std::getenv(kVar) != nullptr;
    ::setenv(kVar, mode, 1);
  }
  ~FindModeEnv() {
    if (had_)
      ::setenv(kVar, old_.c_str(), 1);
    else
      ::unsetenv(kVar);
  }
  FindModeEnv(const FindModeEnv&) = delete;
  FindModeEnv& operator=(const FindModeEnv&) = delete;

 private:
  static constexpr const char* kVar = "MIOPEN_FIND_MODE";
  std::string old_;
  bool had_ = false;
};

bool is_output(Dir d, Arg a) {
  const std::vector<Arg> outs = outputs_of(d);
  return std::find(outs.begin(), outs.end(), a) != outs.end();
}

}  // namespace

const DirectionCalls& calls_for(const Api& api, Dir d) {
  if (forward(d)) return api.fwd;
  return d == Dir::BWD_D ? api.bwd_data : api.bwd_weights;
}

Result<std::vector<miopenConvSolution_t>> list_solutions(const Context& ctx, const Problem& p) {
  const DirectionCalls& calls = calls_for(*ctx.api, p.dir);
  Descriptors desc(ctx.api);
  CG_RETURN_IF_ERROR(desc.create(p));
  const auto [a, b, c] = solution_order(p.dir);
  size_t count = 0;
  CG_RETURN_IF_ERROR(miopen_check(
      *ctx.api, calls.count(ctx.handle, desc.of(a), desc.of(b), desc.conv, desc.of(c), &count),
      "GetSolutionCount", true));
  std::vector<miopenConvSolution_t> out(count);
  size_t got = 0;
  if (count > 0)
    CG_RETURN_IF_ERROR(miopen_check(*ctx.api,
                                    calls.solutions(ctx.handle, desc.of(a), desc.of(b), desc.conv,
                                                    desc.of(c), count, &got, out.data()),
                                    "GetSolution", true));
  out.resize(std::min(got, count));
  if (out.empty()) return Status::Unsupported("miopen: no solution for this problem");
  return out;
}

MiopenPrepared::MiopenPrepared(std::shared_ptr<Context> ctx, const Problem& p)
    : ctx_(std::move(ctx)),
      calls_(calls_for(*ctx_->api, p.dir)),
      p_(p),
      desc_(ctx_->api),
      src_(ctx_->api),
      wei_(ctx_->api),
      dst_(ctx_->api),
      bia_(ctx_->api),
      workspace_(ctx_->api) {}

DeviceBuffer& MiopenPrepared::buffer(Arg a) {
  return a == Arg::src ? src_ : a == Arg::wei ? wei_ : a == Arg::bia ? bia_ : dst_;
}

// Descriptors and buffers (outputs inside guard bands), all zeroed.
Status MiopenPrepared::setup() {
  if (p_.oh != conv_out_size(p_.ih, p_.kh, p_.sh, p_.ph, p_.dh) ||
      p_.ow != conv_out_size(p_.iw, p_.kw, p_.sw, p_.pw, p_.dw))
    return Status::Unsupported("miopen: the output size implies asymmetric padding");
  // As MIOpen's own bias calls do (miopenStatusNotImplemented), without compiling first.
  if (p_.has_bias() && p_.dt == DataType::bf16)
    return Status::Unsupported("miopen: MIOpen's bias calls do not take bf16");
  CG_RETURN_IF_ERROR(desc_.create(p_));
  const Elem e = elem_of(p_.dt);
  for (Arg a : {Arg::src, Arg::wei, Arg::dst, Arg::bia}) {
    if (elems(p_, a) == 0) continue;
    const size_t bytes = size_t(shape_of(p_, a).elems()) * elem_size(e);
    CG_RETURN_IF_ERROR(buffer(a).allocate(bytes, is_output(p_.dir, a)));
    CG_RETURN_IF_ERROR(buffer(a).upload(std::vector<unsigned char>(bytes, 0)));
  }
  return Status::Ok();
}

// Compiles solution s (the slow first-call work: kernel builds) and sizes its workspace.
Status MiopenPrepared::compile(const miopenConvSolution_t& s) {
  id_ = s.solution_id;
  name_ = solver_name(id_);
  class_ = solver_class(s.algorithm, name_);
  const auto [a, b, c] = solution_order(p_.dir);
  const Descriptors& d = desc_;
  size_t ws = 0;
  CG_RETURN_IF_ERROR(miopen_check(
      *ctx_->api, calls_.workspace(ctx_->handle, d.of(a), d.of(b), d.conv, d.of(c), id_, &ws),
      "GetSolutionWorkspaceSize(" + name_ + ")", true));
  CG_RETURN_IF_ERROR(
      miopen_check(*ctx_->api, calls_.compile(ctx_->handle, d.of(a), d.of(b), d.conv, d.of(c), id_),
                   "CompileSolution(" + name_ + ")"));
  return workspace_.allocate(ws, true);
}

Status MiopenPrepared::prepare_solver(uint64_t id) {
  CG_RETURN_IF_ERROR(setup());
  auto sols = list_solutions(*ctx_, p_);
  if (!sols.ok()) return sols.status();
  for (const miopenConvSolution_t& s : *sols)
    if (s.solution_id == id) return compile(s);
  return Status::Unsupported("miopen: " + solver_name(id) + " is not applicable to this problem");
}

Status MiopenPrepared::prepare_default() {
  CG_RETURN_IF_ERROR(setup());
  auto sols = list_solutions(*ctx_, p_);
  if (!sols.ok()) return sols.status();
  return compile(sols->front());
}

// Empty when the guard bands of every output and the workspace are intact.
Result<std::string> MiopenPrepared::check_bands() {
  for (Arg a : outputs_of(p_.dir)) {
    auto bad = buffer(a).check_bands(to_string(a));
    if (!bad.ok() || !bad->empty()) return bad;
  }
  return workspace_.check_bands("workspace");
}

Status MiopenPrepared::prepare_find(const std::string& mode) {
  const std::array<std::pair<const char*, miopenConvolutionFindMode_t>, 3> kModes = {
      {{"normal", miopenFindNormal}, {"fast", miopenFindFast}, {"hybrid", miopenFindHybrid}}};
  auto m = std::find_if(kModes.begin(), kModes.end(), [&](auto& k) { return mode == k.first; });
  if (m == kModes.end()) return Status::Invalid("invalid --algo=find." + mode);
  CG_RETURN_IF_ERROR(setup());
  const Api& api = *ctx_->api;
  const Descriptors& d = desc_;
  if (api.SetConvolutionFindMode)
    CG_RETURN_IF_ERROR(miopen_check(api, api.SetConvolutionFindMode(d.conv, m->second),
                                    "miopenSetConvolutionFindMode"));
  const auto [a, b, c] = solution_order(p_.dir);
  size_t ws = 0;
  CG_RETURN_IF_ERROR(
      miopen_check(api, calls_.find_workspace(ctx_->handle, d.of(a), d.of(b), d.conv, d.of(c), &ws),
                   "GetWorkSpaceSize", true));
  CG_RETURN_IF_ERROR(workspace_.allocate(ws, true));
  const auto [pa, qa, ra] = find_order(p_.dir);
  miopenConvAlgoPerf_t perf{};
  int returned = 0;
  {
    const FindModeEnv env(m->first);
    CG_RETURN_IF_ERROR(miopen_check(
        api,
        calls_.find(ctx_->handle, d.of(pa), buffer(pa).data(), d.of(qa), buffer(qa).data(), d.conv,
                    d.of(ra), buffer(ra).data(), 1, &returned, &perf, workspace_.data(), ws,
                    /*exhaustiveSearch=*/false),
        "Find(" + mode + ")", true));
  }
  auto bad = check_bands();
  if (!bad.ok()) return bad.status();
  if (!bad->empty()) return Status::Error(*bad + " during Find");
  if (returned < 1) return Status::Unsupported("miopen: Find returned no algorithm");
  // The solution Find picked heads the list now (MIOpen reads its find-db first).
  auto sols = list_solutions(*ctx_, p_);
  if (!sols.ok()) return sols.status();
  return compile(sols->front());
}

// The convolution, then MIOpen's bias call where the direction has a bias.
Status MiopenPrepared::call_immediate() {
  const auto [a, b, c] = solution_order(p_.dir);
  const Descriptors& d = desc_;
  const Api& api = *ctx_->api;
  CG_RETURN_IF_ERROR(miopen_check(
      api,
      calls_.immediate(ctx_->handle, d.of(a), buffer(a).data(), d.of(b), buffer(b).data(), d.conv,
                       d.of(c), buffer(c).data(), workspace_.data(), workspace_.bytes(), id_),
      "Immediate(" + name_ + ")"));
  const float one = 1, zero = 0;
  if (p_.dir == Dir::FWD_B)
    return miopen_check(
        api,
        api.ConvolutionForwardBias(ctx_->handle, &one, d.b, bia_.data(), &zero, d.y, dst_.data()),
        "miopenConvolutionForwardBias", true);
  if (p_.dir == Dir::BWD_WB)
    return miopen_check(
        api,
        api.ConvolutionBackwardBias(ctx_->handle, &one, d.y, dst_.data(), &zero, d.b, bia_.data()),
        "miopenConvolutionBackwardBias", true);
  return Status::Ok();
}

// The direction's inputs, and its outputs as given (poisoned: unwritten never passes).
Status MiopenPrepared::upload(const ConvTensors& t) {
  const Elem e = elem_of(p_.dt);
  for (Arg a : {Arg::src, Arg::wei, Arg::dst, Arg::bia}) {
    if (elems(p_, a) == 0) continue;
    const std::vector<float>& v = tensor(t, a);
    if (static_cast<int64_t>(v.size()) != elems(p_, a))
      return Status::Error(std::string("miopen: ") + to_string(a) + " has " +
                           std::to_string(v.size()) + " elements, expected " +
                           std::to_string(elems(p_, a)));
    CG_RETURN_IF_ERROR(buffer(a).upload(to_device_bytes(v, shape_of(p_, a), e)));
    CG_RETURN_IF_ERROR(buffer(a).arm_bands());
  }
  return workspace_.arm_bands();
}

Result<double> MiopenPrepared::execute(ConvTensors& t, const ExecOptions& opt) {
  CG_RETURN_IF_ERROR(upload(t));
  const Api& api = *ctx_->api;
  for (int i = 0; i < opt.warmup; ++i) CG_RETURN_IF_ERROR(call_immediate());
  std::vector<double> ms;
  for (int i = 0; i < std::max(1, opt.repeats); ++i) {
    const auto start = std::chrono::steady_clock::now();
    CG_RETURN_IF_ERROR(call_immediate());
    CG_RETURN_IF_ERROR(hip_check(api, api.hipDeviceSynchronize(), "hipDeviceSynchronize"));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  auto bad = check_bands();
  if (!bad.ok()) return bad.status();
  if (!bad->empty()) return Status::Error(*bad);
  for (Arg out : outputs_of(p_.dir)) {
    std::vector<unsigned char> bytes;
    CG_RETURN_IF_ERROR(buffer(out).download(bytes));
    from_device_bytes(bytes, shape_of(p_, out), elem_of(p_.dt), tensor(t, out));
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace convguard::miopen

// `onednn`: oneDNN 2.6's CPU convolutions (v2 API). Each implementation oneDNN offers
// for a problem (walked with next_impl()) is one algorithm, named
// "<alg>:<impl_info_str>", e.g. "direct:jit:avx512_core", "winograd:jit_wino_4x3:avx512_core".
#include <oneapi/dnnl/dnnl_debug.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "convguard/cpu_engines.h"
#include "model/environment.h"

namespace convguard {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

memory::data_type dnnl_dt(DataType t) {
  switch (t) {
    case DataType::f32: return memory::data_type::f32;
    case DataType::f16: return memory::data_type::f16;
    case DataType::bf16: return memory::data_type::bf16;
  }
  return memory::data_type::f32;
}

memory::dims wei_dims(const Problem& p) {
  if (p.g == 1) return {p.oc, p.ic, p.kh, p.kw};
  return {p.g, p.oc / p.g, p.ic / p.g, p.kh, p.kw};
}

Tag wei_canonical(const Problem& p) { return p.g == 1 ? Tag::oihw : Tag::goihw; }

// Memory descriptors the primitive is created with: src/dst in the problem's layout,
// weights left to oneDNN (any), bias plain.
struct Descs {
  memory::desc src, wei, bia, dst;
  memory::dims strides, dilates, pad_l, pad_r;
};

Descs descs_for(const Problem& p) {
  const auto dt = dnnl_dt(p.dt);
  const Tag act = p.layout == Layout::nchw ? Tag::nchw : Tag::nhwc;
  Descs d;
  d.src = memory::desc({p.mb, p.ic, p.ih, p.iw}, dt, act);
  d.dst = memory::desc({p.mb, p.oc, p.oh, p.ow}, dt, act);
  d.wei = memory::desc(wei_dims(p), dt, Tag::any);
  if (p.has_bias()) d.bia = memory::desc({p.oc}, dt, Tag::x);
  d.strides = {p.sh, p.sw};
  d.dilates = {p.dh, p.dw};
  d.pad_l = {p.ph, p.pw};
  // Right padding that makes the given output size come out exactly.
  d.pad_r = {(p.oh - 1) * p.sh - p.ih + ((p.kh - 1) * (p.dh + 1) + 1) - p.ph,
             (p.ow - 1) * p.sw - p.iw + ((p.kw - 1) * (p.dw + 1) + 1) - p.pw};
  return d;
}

// An iterator over the implementations of one problem and one oneDNN algorithm.
// oneDNN 2.6's iterator keeps a pointer to the operation descriptor and reads it on
// every next_impl(), so the descriptors live here, on the heap, as long as the
// iterator (a moved-from stack copy would leave it reading freed memory).
// Backward primitives need a forward primitive_desc as a hint.
struct Candidates {
  std::unique_ptr<dnnl::convolution_forward::desc> fwd_desc;
  std::unique_ptr<dnnl::convolution_backward_data::desc> bwd_d_desc;
  std::unique_ptr<dnnl::convolution_backward_weights::desc> bwd_w_desc;
  dnnl::convolution_forward::primitive_desc fwd;
  dnnl::convolution_backward_data::primitive_desc bwd_d;
  dnnl::convolution_backward_weights::primitive_desc bwd_w;

  dnnl::primitive_desc& current(Dir d) {
    if (d == Dir::FWD_D || d == Dir::FWD_B) return fwd;
    if (d == Dir::BWD_D) return bwd_d;
    return bwd_w;
  }
};

// The iterator for p and alg; null where oneDNN has no implementation at all.
std::unique_ptr<Candidates> make_candidates(const Problem& p, dnnl::algorithm alg,
                                            const dnnl::engine& eng) {
  const Descs d = descs_for(p);
  auto c = std::make_unique<Candidates>();
  c->fwd_desc = std::make_unique<dnnl::convolution_forward::desc>(
      dnnl::prop_kind::forward_training, alg, d.src, d.wei, d.bia, d.dst, d.strides, d.dilates,
      d.pad_l, d.pad_r);
  c->fwd = dnnl::convolution_forward::primitive_desc(*c->fwd_desc, eng, true);
  if (!c->fwd) return nullptr;
  if (p.dir == Dir::BWD_D) {
    c->bwd_d_desc = std::make_unique<dnnl::convolution_backward_data::desc>(
        alg, d.src, d.wei, d.dst, d.strides, d.dilates, d.pad_l, d.pad_r);
    c->bwd_d = dnnl::convolution_backward_data::primitive_desc(*c->bwd_d_desc, eng, c->fwd, true);
    if (!c->bwd_d) return nullptr;
  }
  if (p.dir == Dir::BWD_W || p.dir == Dir::BWD_WB) {
    c->bwd_w_desc = std::make_unique<dnnl::convolution_backward_weights::desc>(
        alg, d.src, d.wei, d.bia, d.dst, d.strides, d.dilates, d.pad_l, d.pad_r);
    c->bwd_w =
        dnnl::convolution_backward_weights::primitive_desc(*c->bwd_w_desc, eng, c->fwd, true);
    if (!c->bwd_w) return nullptr;
  }
  return c;
}

const char* alg_prefix(dnnl::algorithm a) {
  return a == dnnl::algorithm::convolution_winograd ? "winograd" : "direct";
}

// "direct:<impl>" names in oneDNN's order of preference. A name oneDNN repeats is
// listed once; prepare() takes its first occurrence.
std::vector<std::string> impl_names(const Problem& p, dnnl::algorithm alg, const dnnl::engine& eng) {
  std::vector<std::string> names;
  auto c = make_candidates(p, alg, eng);
  if (!c) return names;
  dnnl::primitive_desc& pd = c->current(p.dir);
  do {
    std::string n = std::string(alg_prefix(alg)) + ":" + pd.impl_info_str();
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(std::move(n));
  } while (pd.next_impl());
  return names;
}

// Which oneDNN arg each of our canonical tensors binds to, per direction.
int dnnl_arg(Dir d, Arg a) {
  const bool fwd = d == Dir::FWD_D || d == Dir::FWD_B;
  switch (a) {
    case Arg::src: return d == Dir::BWD_D ? DNNL_ARG_DIFF_SRC : DNNL_ARG_SRC;
    case Arg::wei: return fwd || d == Dir::BWD_D ? DNNL_ARG_WEIGHTS : DNNL_ARG_DIFF_WEIGHTS;
    case Arg::bia: return fwd ? DNNL_ARG_BIAS : DNNL_ARG_DIFF_BIAS;
    case Arg::dst: return fwd ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST;
  }
  return DNNL_ARG_SRC;
}

memory::desc canonical_desc(const Problem& p, Arg a) {
  const auto f32 = memory::data_type::f32;
  switch (a) {
    case Arg::src: return memory::desc({p.mb, p.ic, p.ih, p.iw}, f32, Tag::nchw);
    case Arg::wei: return memory::desc(wei_dims(p), f32, wei_canonical(p));
    case Arg::bia: return memory::desc({p.oc}, f32, Tag::x);
    case Arg::dst: break;
  }
  return memory::desc({p.mb, p.oc, p.oh, p.ow}, f32, Tag::nchw);
}

Status check_sizes(const Problem& p, const ConvTensors& t) {
  for (Arg a : {Arg::src, Arg::wei, Arg::bia, Arg::dst})
    if (elems(p, a) != 0 && static_cast<int64_t>(tensor(t, a).size()) != elems(p, a))
      return Status::Error(std::string("onednn: ") + to_string(a) + " has " +
                           std::to_string(tensor(t, a).size()) + " elements, expected " +
                           std::to_string(elems(p, a)));
  return Status::Ok();
}

class OnednnPrepared : public Prepared {
 public:
  OnednnPrepared(const Problem& p, dnnl::engine eng, const dnnl::primitive_desc& pd,
                 std::string algo, AlgoClass cls)
      : p_(p), eng_(eng), stream_(eng), prim_(pd), algo_(std::move(algo)), cls_(cls) {
    for (Arg a : {Arg::src, Arg::wei, Arg::bia, Arg::dst}) {
      if (elems(p, a) == 0) continue;
      const int id = dnnl_arg(p.dir, a);
      args_.push_back({a, id, memory(pd.query_md(dnnl::query::exec_arg_md, id), eng_)});
    }
    const memory::desc scratch = pd.scratchpad_desc();
    if (scratch.get_size() > 0) scratch_ = memory(scratch, eng_);
  }

  std::string algo() const override { return algo_; }
  AlgoClass algo_class() const override { return cls_; }

  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override {
    CG_RETURN_IF_ERROR(check_sizes(p_, t));
    try {
      return run(t, opt);
    } catch (const dnnl::error& e) {
      return Status::Error(std::string("onednn execute: ") + e.what());
    } catch (const std::exception& e) {
      return Status::Error(std::string("onednn execute: ") + e.what());
    }
  }

 private:
  struct Bound {
    Arg arg;
    int id;
    memory mem;
  };

  // Copies one canonical f32 host tensor into or out of the primitive's memory.
  void transfer(Bound& b, ConvTensors& t, bool to_primitive) {
    memory user(canonical_desc(p_, b.arg), eng_, tensor(t, b.arg).data());
    if (to_primitive)
      dnnl::reorder(user, b.mem).execute(stream_, user, b.mem);
    else
      dnnl::reorder(b.mem, user).execute(stream_, b.mem, user);
    stream_.wait();
  }

  Result<double> run(ConvTensors& t, const ExecOptions& opt) {
    const std::vector<Arg> ins = inputs_of(p_.dir);
    std::unordered_map<int, memory> args;
    for (Bound& b : args_) {
      if (std::find(ins.begin(), ins.end(), b.arg) != ins.end()) transfer(b, t, true);
      args[b.id] = b.mem;
    }
    if (scratch_) args[DNNL_ARG_SCRATCHPAD] = scratch_;
    for (int i = 0; i < opt.warmup; ++i) prim_.execute(stream_, args);
    stream_.wait();
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, opt.repeats); ++i) {
      const auto start = std::chrono::steady_clock::now();
      prim_.execute(stream_, args);
      stream_.wait();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             start).count());
    }
    const std::vector<Arg> outs = outputs_of(p_.dir);
    for (Bound& b : args_)
      if (std::find(outs.begin(), outs.end(), b.arg) != outs.end()) transfer(b, t, false);
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    return ms[ms.size() / 2];
  }

  Problem p_;
  dnnl::engine eng_;
  dnnl::stream stream_;
  dnnl::primitive prim_;
  std::string algo_;
  AlgoClass cls_;
  std::vector<Bound> args_;
  memory scratch_;
};

std::string isa_name() {
  const char* s = dnnl_cpu_isa2str(static_cast<dnnl_cpu_isa_t>(dnnl::get_effective_cpu_isa()));
  return s ? s : "unknown";
}

class OnednnEngine : public Engine {
 public:
  std::string name() const override { return "onednn"; }

  std::string version() const override {
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch);
  }

  Status init() override {
    if (eng_) return Status::Ok();
    try {
      // oneDNN 2.6's implementation iterator fetches from the primitive cache: once a
      // primitive for a problem was created, next_impl() repeats the cached
      // implementation and may skip others, so "direct:ref:any" could silently run
      // another kernel. Probing needs every implementation, each prepared for real.
      dnnl::set_primitive_cache_capacity(0);
      eng_ = dnnl::engine(dnnl::engine::kind::cpu, 0);
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::Error(std::string("onednn: cannot create a CPU engine: ") + e.what());
    }
  }

  std::vector<std::string> algorithms(const Problem& p) override {
    std::vector<std::string> out;
    if (!init().ok()) return out;
    try {
      if (auto d = resolve_default(p); d.ok()) out.push_back(d->name);
      for (auto alg : {dnnl::algorithm::convolution_direct, dnnl::algorithm::convolution_winograd})
        for (std::string& n : impl_names(p, alg, eng_))
          if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
    } catch (const std::exception&) {
      // A problem oneDNN rejects outright has no algorithms; prepare says why.
    }
    return out;
  }

  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) override {
    CG_RETURN_IF_ERROR(init());
    try {
      return prepare_impl(p, algo);
    } catch (const dnnl::error& e) {
      if (e.status == dnnl_invalid_arguments)
        return Status::Invalid(std::string("onednn rejects the problem: ") + e.what());
      if (e.status == dnnl_unimplemented) return unsupported(p, e.what());
      return Status::Error(std::string("onednn prepare: ") + e.what());
    } catch (const std::exception& e) {
      return Status::Error(std::string("onednn prepare: ") + e.what());
    }
  }

  std::map<std::string, std::string> fingerprint() override {
    std::map<std::string, std::string> f = {
        {"engine", "onednn"},
        {"version", version()},
        {"cpu_isa", isa_name()},
        {"primitive_cache", std::to_string(dnnl::get_primitive_cache_capacity())}};
    f.merge(env_facts(current_env(), [](std::string_view k) {
      return k.starts_with("ONEDNN_") || k.starts_with("DNNL_") || k == "OMP_NUM_THREADS";
    }));
    return f;
  }

 private:
  Status unsupported(const Problem& p, const std::string& what) const {
    return Status::Unsupported(version() + " has no " + (what.empty() ? "" : what + " ") +
                               to_string(p.dt) + " " +
                               to_string(p.dir) + " convolution for this problem on " +
                               isa_name());
  }

  struct Choice {
    std::string name;
    AlgoClass cls = AlgoClass::exact;
    std::unique_ptr<Candidates> c;
  };

  // The implementation oneDNN picks first for convolution_auto (falling back to
  // direct), named as algorithms() names it.
  Result<Choice> resolve_default(const Problem& p) {
    for (auto alg : {dnnl::algorithm::convolution_auto, dnnl::algorithm::convolution_direct}) {
      Choice ch;
      ch.c = make_candidates(p, alg, eng_);
      if (!ch.c) continue;
      const std::string impl = ch.c->current(p.dir).impl_info_str();
      const bool wino = impl.find("wino") != std::string::npos;
      ch.name = std::string(wino ? "winograd:" : "direct:") + impl;
      ch.cls = wino ? AlgoClass::winograd_6x6 : AlgoClass::exact;  // oneDNN: F(4x4,3x3)
      return ch;
    }
    return unsupported(p, "");
  }

  Result<std::unique_ptr<Prepared>> prepare_impl(const Problem& p, const std::string& algo) {
    if (algo == kDefaultAlgo) {
      auto d = resolve_default(p);
      if (!d.ok()) return d.status();
      return make(p, d->name, d->cls, d->c->current(p.dir));
    }
    const size_t colon = algo.find(':');
    const std::string prefix = algo.substr(0, colon);
    if (colon == std::string::npos || (prefix != "direct" && prefix != "winograd"))
      return Status::Invalid("onednn: unknown algorithm '" + algo +
                             "' (expected default, direct:<impl> or winograd:<impl>)");
    const auto alg = prefix == "winograd" ? dnnl::algorithm::convolution_winograd
                                          : dnnl::algorithm::convolution_direct;
    const AlgoClass cls = prefix == "winograd" ? AlgoClass::winograd_6x6 : AlgoClass::exact;
    auto c = make_candidates(p, alg, eng_);
    if (!c) return unsupported(p, prefix);
    dnnl::primitive_desc& pd = c->current(p.dir);
    do {
      if (prefix + ":" + pd.impl_info_str() == algo) return make(p, algo, cls, pd);
    } while (pd.next_impl());
    return Status::Unsupported("onednn offers no implementation '" + algo + "' for this problem");
  }

  Result<std::unique_ptr<Prepared>> make(const Problem& p, const std::string& algo, AlgoClass cls,
                                         const dnnl::primitive_desc& pd) {
    return std::unique_ptr<Prepared>(std::make_unique<OnednnPrepared>(p, eng_, pd, algo, cls));
  }

  dnnl::engine eng_;
};

}  // namespace

std::unique_ptr<Engine> make_onednn_engine() { return std::make_unique<OnednnEngine>(); }

}  // namespace convguard

#include "convguard/engine.h"

namespace convguard {

std::vector<Arg> inputs_of(Dir d) {
  switch (d) {
    case Dir::FWD_D: return {Arg::src, Arg::wei};
    case Dir::FWD_B: return {Arg::src, Arg::wei, Arg::bia};
    case Dir::BWD_D: return {Arg::dst, Arg::wei};
    case Dir::BWD_W:
    case Dir::BWD_WB: return {Arg::src, Arg::dst};
  }
  return {};
}

std::vector<Arg> outputs_of(Dir d) {
  switch (d) {
    case Dir::FWD_D:
    case Dir::FWD_B: return {Arg::dst};
    case Dir::BWD_D: return {Arg::src};
    case Dir::BWD_W: return {Arg::wei};
    case Dir::BWD_WB: return {Arg::wei, Arg::bia};
  }
  return {};
}

std::vector<float>& tensor(ConvTensors& t, Arg a) {
  switch (a) {
    case Arg::src: return t.src;
    case Arg::wei: return t.wei;
    case Arg::bia: return t.bia;
    case Arg::dst: break;
  }
  return t.dst;
}

const std::vector<float>& tensor(const ConvTensors& t, Arg a) {
  return tensor(const_cast<ConvTensors&>(t), a);
}

const char* to_string(Arg a) {
  switch (a) {
    case Arg::src: return "src";
    case Arg::wei: return "wei";
    case Arg::bia: return "bia";
    case Arg::dst: return "dst";
  }
  return "?";
}

int64_t elems(const Problem& p, Arg a) {
  switch (a) {
    case Arg::src: return p.src_elems();
    case Arg::wei: return p.wei_elems();
    case Arg::bia: return p.has_bias() ? p.oc : 0;
    case Arg::dst: return p.dst_elems();
  }
  return 0;
}

void resize_for(const Problem& p, ConvTensors& t) {
  for (Arg a : {Arg::src, Arg::wei, Arg::bia, Arg::dst})
    tensor(t, a).resize(static_cast<size_t>(elems(p, a)));
}

const char* to_string(AlgoClass c) {
  switch (c) {
    case AlgoClass::exact: return "exact";
    case AlgoClass::reduced: return "reduced";
    case AlgoClass::winograd: return "winograd";
    case AlgoClass::fft: return "fft";
    case AlgoClass::winograd_4x4: return "winograd_4x4";
    case AlgoClass::winograd_6x6: return "winograd_6x6";
    case AlgoClass::winograd_13x13: return "winograd_13x13";
    case AlgoClass::winograd_tf32: return "winograd_tf32";
  }
  return "?";
}

}  // namespace convguard

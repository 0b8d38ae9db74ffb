// `repro --as torch`: a standalone PyTorch script that runs the problem with the finding's
// knobs on convguard's own input values and judges the result against the same bound.
#include <cmath>

#include <fmt/format.h>

#include "convguard/bounds.h"
#include "convguard/fill.h"
#include "search/repro.h"

namespace convguard {
namespace {

const char* torch_dtype(DataType t) {
  return t == DataType::f16 ? "torch.float16" : t == DataType::bf16 ? "torch.bfloat16" : "torch.float32";
}

// The direction as PyTorch calls it: forward, or autograd's backward for data / weights.
std::string torch_direction(const Problem& p) {
  const std::string call =
      "F.conv2d(x, w, b, stride=STRIDE, padding=PADDING, dilation=DILATION, groups=GROUPS)";
  switch (p.dir) {
    case Dir::FWD_D:
    case Dir::FWD_B: return "    return [" + call + "]\n";
    case Dir::BWD_D: return "    x.requires_grad_(True)\n    (" + call + ").backward(dy)\n    return [x.grad]\n";
    case Dir::BWD_W: return "    w.requires_grad_(True)\n    (" + call + ").backward(dy)\n    return [w.grad]\n";
    case Dir::BWD_WB:
      return "    w.requires_grad_(True)\n    b.requires_grad_(True)\n    (" + call +
             ").backward(dy)\n    return [w.grad, b.grad]\n";
  }
  return "";
}

// The choices PyTorch exposes: cuDNN (MIOpen on ROCm) on or off, benchmark (find) versus
// heuristics, determinism, TF32, oneDNN on the CPU. The torch engine's algorithms are these
// knobs by name (cudnn.benchmark, cudnn.off, tf32.off, mkldnn.off, ...); other engines'
// algorithm names map to the nearest knobs.
std::string torch_flags(const ProbeResult& r) {
  const std::string a = ascii_lower(r.algo);
  const bool torch = r.engine == "torch";
  const bool tf32 = torch ? a != "tf32.off" : a.find("tf32") != std::string::npos;
  std::string s;
  s += fmt::format("torch.backends.cudnn.enabled = {}\n", a == "cudnn.off" ? "False" : "True");
  s += fmt::format("torch.backends.cudnn.benchmark = {}  # True: let cuDNN time its algorithms\n",
                   a == "benchmark" || a == "find" || a == "cudnn.benchmark" ? "True" : "False");
  s += fmt::format("torch.backends.cudnn.deterministic = {}\n",
                   a.find("determin") != std::string::npos ? "True" : "False");
  s += fmt::format("torch.backends.cudnn.allow_tf32 = {}\n", tf32 ? "True" : "False");
  s += "torch.backends.cuda.matmul.allow_tf32 = False\n";
  if (a == "mkldnn.off") s += "torch.backends.mkldnn.enabled = False\n";
  if (a == "miopen.immediate") s += "torch.backends.miopen.immediate = True\n";
  return s;
}

// The class the finding was judged in; exact when the result names none.
AlgoClass judged_class(const ProbeResult& r) {
  for (AlgoClass c : {AlgoClass::exact, AlgoClass::reduced, AlgoClass::winograd, AlgoClass::fft,
                      AlgoClass::winograd_4x4, AlgoClass::winograd_6x6, AlgoClass::winograd_13x13,
                      AlgoClass::winograd_tf32})
    if (r.err_class == to_string(c)) return c;
  return AlgoClass::exact;
}

// The bound's terms (bounds.h) as Python constants: per output, with M = conv(|inputs|),
//   elementwise: |got - y| <= 2 U_STORE max(|y|,1) + E, E = 2 U_INPUT M + [M >= 2^ACC_BITS] ACC M
//                (direct classes) or ABS_TERM + C_UACC max(M) (transforms)
//   normwise:    ||got - y|| <= 2 U_STORE ||max(|y|,1)|| + C_UACC ||M||
std::string bound_constants(const Problem& p, AlgoClass cls) {
  const ErrorModel e = error_model(p, cls);
  const double t = std::ldexp(1.0, e.acc_bits);
  return fmt::format(
      "CLASS = {}\nU_STORE, U_INPUT, ACC_BITS, ACC = {:.17g}, {:.17g}, {}, {:.17g}\n"
      "TRANSFORM, NORMWISE, ABS_TERM, C_UACC = {}, {}, {:.17g}, {:.17g}\n",
      python_literal(to_string(cls)), e.u_store, e.u_input, e.acc_bits,
      direct_term(e, t) / t - 2 * e.u_input,
      is_transform_class(cls) ? "True" : "False",
      e.normwise ? "True" : "False", e.abs_term, e.c * e.u_acc);
}

// convguard's fills (engines/fill.cc, seed 0) in PyTorch: splitmix64's finaliser over int64
// tensors, whose products wrap as the C++ uint64 ones do.
constexpr const char* kFill = R"PY(
M64 = (1 << 64) - 1
def s64(v):
    v &= M64
    return v - (1 << 64) if v >= 1 << 63 else v

def srl(x, k):  # logical shift right of int64 values
    return (x >> k) & ((1 << (64 - k)) - 1)

def mix(x):
    x = x + s64(0x9e3779b97f4a7c15)
    x = (x ^ srl(x, 30)) * s64(0xbf58476d1ce4e5b9)
    x = (x ^ srl(x, 27)) * s64(0x94d049bb133111eb)
    return x ^ srl(x, 31)

def fill(shape, arg):
    # Element i of argument arg (src 0, wei 1, bia 2, dst 3): an integer in [-MAG, MAG], or 0
    # past the exact limit with probability 1 - DENSITY.
    n = 1
    for d in shape:
        n *= d
    h = mix(mix(torch.tensor([arg], dtype=torch.int64)) ^ torch.arange(n, dtype=torch.int64))
    v = (srl(h, 7) % (2 * MAG + 1) - MAG).double()
    if DENSITY < 1:
        v = torch.where(srl(h, 11).double() * 2.0 ** -53 < DENSITY, v, torch.zeros_like(v))
    return v.reshape(shape)
)PY";

constexpr const char* kJudge = R"PY(
def judge(got, ref, mag):
    worst, nonfinite, zero = 0.0, 0, False
    for g, y, m in zip(got, ref, mag):
        g, y, m = g.detach().double().cpu(), y.detach(), m.detach()
        nonfinite += int((~torch.isfinite(g)).sum())
        g = torch.nan_to_num(g)
        zero |= bool((g == 0).all() and (y != 0).any())
        err, floor = (g - y).abs(), y.abs().clamp(min=1)
        if NORMWISE:
            ratio = float(err.norm() / (2 * U_STORE * floor.norm() + C_UACC * m.norm()))
        else:
            e = ABS_TERM + C_UACC * m.max() if TRANSFORM else 2 * U_INPUT * m + (m >= 2 ** ACC_BITS) * ACC * m
            ratio = float((err / (2 * U_STORE * floor + e)).max())
        worst = max(worst, ratio)
    return ('wrong' if nonfinite or zero or worst > 1 else 'ok'), worst, nonfinite

if os.environ.get('CONVGUARD_REPRO_CHECKSUMS'):
    # The inputs' checksums (sum of (i+1) v_i), to compare with convguard's or cudnn_repro's.
    for name, arg, shape in INPUTS:
        v = fill(shape, arg).flatten()
        print(name, float((v * torch.arange(1, v.numel() + 1, dtype=torch.float64)).sum()))
    sys.exit(0)

def watchdog():
    print(f'verdict hang: no result in {TIMEOUT} s; convguard saw {SEEN}', flush=True)
    os._exit(3)

timer = threading.Timer(TIMEOUT, watchdog)
timer.daemon = True
timer.start()
got = conv(DEVICE, DTYPE)
if DEVICE.type == 'cuda':
    torch.cuda.synchronize()
timer.cancel()
ref = conv(torch.device('cpu'), torch.float64)
mag = conv(torch.device('cpu'), torch.float64, absolute=True)
verdict, ratio, nonfinite = judge(got, ref, mag)
same = verdict == SEEN.split()[0]
print(f'verdict {verdict}: max err/bound {ratio:.3g} ({CLASS} bound), {nonfinite} non-finite; '
      f'convguard saw {SEEN}: {"reproduced" if same else "NOT reproduced"}', flush=True)
sys.exit(0 if same else 1)
)PY";

// The direction's inputs as (name, fill argument, shape) for the script.
std::string inputs_of_direction(const Problem& p) {
  const std::string x = "('x', 0, (MB, IC, IH, IW))", w = "('w', 1, (OC, IC // GROUPS, KH, KW))",
                    b = "('b', 2, (OC,))", dy = "('dy', 3, (MB, OC, OH, OW))";
  switch (p.dir) {
    case Dir::FWD_D: return "[" + x + ", " + w + "]";
    case Dir::FWD_B: return "[" + x + ", " + w + ", " + b + "]";
    case Dir::BWD_D: return "[" + dy + ", " + w + "]";
    case Dir::BWD_W: return "[" + x + ", " + dy + "]";
    case Dir::BWD_WB: return "[" + x + ", " + dy + "]";
  }
  return "[]";
}

}  // namespace

std::string torch_snippet(const Problem& p, const ProbeResult& r, const ReproContext& ctx) {
  (void)ctx;
  // sim stands in for a GPU library, so only the CPU engines themselves run on the CPU.
  const bool cpu = r.engine == "ref" || r.engine == "onednn";
  std::string s = "#!/usr/bin/env python3\n# convguard repro script (PyTorch): runs the problem "
                  "with convguard's input values and judges it as convguard did.\n"
                  "import os, sys, threading\nimport torch\nimport torch.nn.functional as F\n\n";
  s += "PROBLEM = " + python_literal(key(p)) + "\n";
  s += "NAME = " + python_literal(p.name) + "\n";
  s += "ENGINE = " + python_literal(r.engine) + "\n";
  s += "ALGO = " + python_literal(r.algo) + "\n";
  s += "SEEN = " + python_literal(fmt::format("{} ({})", to_string(r.outcome), to_string(r.phase))) + "\n";
  s += "TIMEOUT = 60.0  # seconds before the call is called a hang\n";
  s += "print('convguard repro:', PROBLEM, NAME, 'engine', ENGINE, 'algo', ALGO, 'seen', SEEN, flush=True)\n\n";
  s += torch_flags(r);
  // The torch engine ran where PyTorch found a GPU, else on the CPU.
  const std::string device = r.engine == "torch" ? "'cuda' if torch.cuda.is_available() else 'cpu'"
                                                 : cpu ? "'cpu'" : "'cuda'";
  s += fmt::format("DEVICE = torch.device({})\nDTYPE = {}\n", device, torch_dtype(p.dt));
  const bool channels_last = p.layout == Layout::nhwc || ascii_lower(r.algo) == "channels_last";
  s += fmt::format("LAYOUT = {}\n", channels_last ? "torch.channels_last" : "torch.contiguous_format");
  s += fmt::format("MB, IC, IH, IW, OC, OH, OW, KH, KW = {}, {}, {}, {}, {}, {}, {}, {}, {}\n", p.mb,
                   p.ic, p.ih, p.iw, p.oc, p.oh, p.ow, p.kh, p.kw);
  s += fmt::format("STRIDE, PADDING, DILATION, GROUPS = ({}, {}), ({}, {}), ({}, {}), {}\n", p.sh,
                   p.sw, p.ph, p.pw, p.dh + 1, p.dw + 1, p.g);
  s += fmt::format("MAG, DENSITY = {}, {:.17g}\n", fill_magnitude(p), fill_density(p));
  s += "INPUTS = " + inputs_of_direction(p) + "\n";
  s += bound_constants(p, judged_class(r));
  s += kFill;
  s += "\ndef conv(device, dtype, absolute=False):\n"
       "    v = {name: fill(shape, arg) for name, arg, shape in INPUTS}\n"
       "    v.setdefault('x', torch.zeros(MB, IC, IH, IW, dtype=torch.float64))\n"
       "    v.setdefault('w', torch.zeros(OC, IC // GROUPS, KH, KW, dtype=torch.float64))\n"
       "    def t(name, fmt=True):\n"
       "        u = (v[name].abs() if absolute else v[name]).to(device=device, dtype=dtype)\n"
       "        return u.contiguous(memory_format=LAYOUT) if fmt else u\n"
       "    x, w = t('x'), t('w')\n";
  s += p.has_bias() ? "    b = t('b', False) if 'b' in v else torch.zeros(OC, device=device, dtype=dtype)\n"
                    : "    b = None\n";
  if (p.dir != Dir::FWD_D && p.dir != Dir::FWD_B) s += "    dy = t('dy')\n";
  s += torch_direction(p);
  s += kJudge;
  return s;
}

}  // namespace convguard

// The id -> name table of MIOpen's convolution solvers (facts from MIOpen's registry,
// src/solver.cpp, develop as of 2025). Gaps are removed solvers and ids of other primitives
// (fusions, activations, batch norm, pooling, ...), which never appear as convolution
// solutions.
#include "engines/miopen/miopen_solvers.h"

#include <array>
#include <charconv>
#include <string_view>

#include "engines/miopen/miopen_api.h"

namespace convguard::miopen {
namespace {

struct Named {
  uint64_t id;
  std::string_view name;
};

constexpr std::array kSolvers = std::to_array<Named>({
    {1, "ConvAsm3x3U"},
    {2, "ConvAsm1x1U"},
    {3, "ConvAsm1x1UV2"},
    {5, "ConvAsm5x10u2v2f1"},
    {6, "ConvAsm5x10u2v2b1"},
    {7, "ConvAsm7x7c3h224w224k64u2v2p3q3f1"},
    {8, "ConvOclDirectFwd11x11"},
    {9, "ConvOclDirectFwdGen"},
    {11, "ConvOclDirectFwd"},
    {13, "ConvOclDirectFwd1x1"},
    {14, "ConvBinWinograd3x3U"},
    {15, "ConvBinWinogradRxS"},
    {16, "ConvAsmBwdWrW3x3"},
    {17, "ConvAsmBwdWrW1x1"},
    {18, "ConvOclBwdWrW2_1"},
    {19, "ConvOclBwdWrW2_2"},
    {20, "ConvOclBwdWrW2_4"},
    {21, "ConvOclBwdWrW2_8"},
    {22, "ConvOclBwdWrW2_16"},
    {23, "ConvOclBwdWrW2NonTunable"},
    {24, "ConvOclBwdWrW53"},
    {25, "ConvOclBwdWrW1x1"},
    {26, "ConvHipImplicitGemmV4R1Fwd"},
    {31, "ConvHipImplicitGemmV4R1WrW"},
    {34, "fft"},
    {35, "ConvWinograd3x3MultipassWrW_3_4"},
    {37, "ConvBinWinogradRxSf3x2"},
    {38, "ConvWinograd3x3MultipassWrW_3_5"},
    {39, "ConvWinograd3x3MultipassWrW_3_6"},
    {40, "ConvWinograd3x3MultipassWrW_3_2"},
    {41, "ConvWinograd3x3MultipassWrW_3_3"},
    {42, "ConvWinograd3x3MultipassWrW_7_2"},
    {43, "ConvWinograd3x3MultipassWrW_7_3"},
    {44, "ConvWinograd3x3MultipassWrW_7_2_1_1"},
    {45, "ConvWinograd3x3MultipassWrW_7_3_1_1"},
    {46, "ConvWinograd3x3MultipassWrW_1_1_7_2"},
    {47, "ConvWinograd3x3MultipassWrW_1_1_7_3"},
    {48, "ConvWinograd3x3MultipassWrW_5_3"},
    {49, "ConvWinograd3x3MultipassWrW_5_4"},
    {53, "ConvBinWinogradRxSf2x3"},
    {54, "ConvHipImplicitGemmV4R4Fwd"},
    {55, "ConvHipImplicitGemmBwdDataV1R1"},
    {56, "ConvHipImplicitGemmBwdDataV4R1"},
    {57, "ConvHipImplicitGemmBwdDataV1R1Xdlops"},
    {60, "ConvHipImplicitGemmBwdDataV4R1Xdlops"},
    {61, "ConvHipImplicitGemmV4R4WrW"},
    {62, "ConvAsmImplicitGemmV4R1DynamicFwd"},
    {63, "ConvAsmImplicitGemmV4R1DynamicFwd_1x1"},
    {64, "ConvHipImplicitGemmForwardV4R4Xdlops"},
    {65, "ConvAsmImplicitGemmV4R1DynamicBwd"},
    {66, "ConvAsmImplicitGemmV4R1DynamicWrw"},
    {67, "ConvMPBidirectWinograd_2_3"},
    {68, "ConvMPBidirectWinograd_3_3"},
    {69, "ConvMPBidirectWinograd_4_3"},
    {70, "ConvMPBidirectWinograd_5_3"},
    {71, "ConvMPBidirectWinograd_6_3"},
    {72, "ConvAsmImplicitGemmGTCDynamicWrwXdlops"},
    {73, "ConvHipImplicitGemmWrwV4R4Xdlops"},
    {74, "ConvAsmImplicitGemmGTCDynamicFwdXdlops"},
    {75, "ConvMPBidirectWinograd_xdlops_2_3"},
    {76, "ConvMPBidirectWinograd_xdlops_3_3"},
    {77, "ConvMPBidirectWinograd_xdlops_4_3"},
    {78, "ConvMPBidirectWinograd_xdlops_5_3"},
    {79, "ConvMPBidirectWinograd_xdlops_6_3"},
    {80, "ConvHipImplicitGemmForwardV4R5Xdlops"},
    {81, "ConvHipImplicitGemmForwardV4R4Xdlops_Padded_Gemm"},
    {82, "ConvAsmImplicitGemmGTCDynamicBwdXdlops"},
    {83, "ConvHipImplicitGemmWrwV4R4Xdlops_Padded_Gemm"},
    {84, "ConvBinWinogradRxSf2x3g1"},
    {85, "ConvDirectNaiveConvFwd"},
    {86, "ConvDirectNaiveConvBwd"},
    {87, "ConvDirectNaiveConvWrw"},
    {88, "GemmFwd1x1_0_1"},
    {89, "GemmFwd1x1_0_1_int8"},
    {90, "GemmFwd1x1_0_2"},
    {91, "GemmFwdRest"},
    {95, "GemmBwd1x1_stride2"},
    {96, "GemmBwd1x1_stride1"},
    {97, "GemmBwdRest"},
    {98, "ConvMlirIgemmFwd"},
    {99, "ConvMlirIgemmBwd"},
    {100, "ConvMlirIgemmWrW"},
    {101, "GemmWrw1x1_stride1"},
    {102, "GemmWrwUniversal"},
    {103, "ConvMlirIgemmFwdXdlops"},
    {104, "ConvMlirIgemmBwdXdlops"},
    {105, "ConvMlirIgemmWrWXdlops"},
    {107, "ConvAsmImplicitGemmGTCDynamicFwdXdlopsNHWC"},
    {108, "ConvAsmImplicitGemmGTCDynamicBwdXdlopsNHWC"},
    {110, "ConvAsmImplicitGemmGTCDynamicWrwXdlopsNHWC"},
    {114, "ConvCkIgemmFwdV6r1DlopsNchw"},
    {127, "ConvAsmImplicitGemmGTCDynamicFwdDlopsNCHWC"},
    {128, "ConvHipImplicitGemmFwdXdlops"},
    {129, "ConvHipImplicitGemmBwdXdlops"},
    {137, "ConvHipImplicitGemmGroupFwdXdlops"},
    {138, "ConvHipImplicitGemm3DGroupFwdXdlops"},
    {139, "ConvWinoFuryRxS_2_3"},
    {140, "ConvHipImplicitGemm3DGroupWrwXdlops"},
    {141, "ConvHipImplicitGemm3DGroupBwdXdlops"},
    {155, "ConvHipImplicitGemmGroupBwdXdlops"},
    {156, "ConvHipImplicitGemmGroupWrwXdlops"},
});

constexpr std::string_view kPrefix = "solver";

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

}  // namespace

std::string solver_name(uint64_t id) {
  for (const Named& s : kSolvers)
    if (s.id == id) return std::string(s.name);
  return std::string(kPrefix) + std::to_string(id);
}

std::optional<uint64_t> solver_id(const std::string& name) {
  for (const Named& s : kSolvers)
    if (s.name == name) return s.id;
  if (!name.starts_with(kPrefix) || name.size() == kPrefix.size()) return std::nullopt;
  uint64_t id = 0;
  const char* first = name.data() + kPrefix.size();
  const char* last = name.data() + name.size();
  const auto [end, ec] = std::from_chars(first, last, id);
  if (ec != std::errc() || end != last || id == 0) return std::nullopt;
  return id;
}

AlgoClass solver_class(int algorithm, const std::string& name) {
  if (algorithm == miopenConvolutionAlgoFFT) return AlgoClass::fft;
  if (algorithm != miopenConvolutionAlgoWinograd) return AlgoClass::exact;
  // F(2,3) tiles are 4 wide; F(3,2) 4; larger output tiles widen the input tile.
  if (contains(name, "_2_3") || contains(name, "f3x2") || contains(name, "f2x3"))
    return AlgoClass::winograd_4x4;
  if (contains(name, "_4_3")) return AlgoClass::winograd_6x6;
  return AlgoClass::winograd;
}

uint64_t last_named_solver() { return kSolvers.back().id; }

}  // namespace convguard::miopen

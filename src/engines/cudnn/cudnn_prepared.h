// A problem prepared for cuDNN: legacy descriptors, guard-banded device buffers,
// and the execute phase shared by the legacy API and the backend engines.
#pragma once

#include <memory>
#include <string>

#include <cudnn.h>

#include "convguard/engine.h"
#include "engines/cudnn/cudnn_algos.h"
#include "engines/cudnn/cudnn_buffers.h"
#include "engines/cudnn/cudnn_common.h"

namespace convguard::cudnn {

/// Canonical dims of the three tensors: x (mb, ic, ih, iw), w (oc, ic/g, kh, kw),
/// y (mb, oc, oh, ow), and the bias (1, oc, 1, 1).
struct Dims {
  int64_t x[4], w[4], y[4], b[4];
};
Dims dims_of(const Problem& p);
/// cuDNN's data type for dt.
cudnnDataType_t data_type(DataType dt);

/// The legacy API's descriptors for one problem (also used for the bias steps of
/// backend engines).
class Descriptors {
 public:
  Descriptors() = default;
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
  ~Descriptors();
  /// Builds every descriptor for p. Unsupported where cuDNN declines one, or where
  /// its output size differs from p's (the legacy API pads symmetrically).
  Status build(const Problem& p);

  cudnnTensorDescriptor_t x = nullptr, y = nullptr, b = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
};

/// Shared part of every prepared cuDNN problem. Subclasses run the convolution.
class ConvPrepared : public Prepared {
 public:
  ConvPrepared(std::shared_ptr<Context> ctx, const Problem& p);
  std::string algo() const override { return algo_; }
  AlgoClass algo_class() const override { return class_; }
  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override;

  /// Names the resolved algorithm and its class.
  void set_algo(std::string name, AlgoClass cls);
  /// Builds the legacy descriptors (also for backend engines: the bias steps use them).
  Status build_descriptors() { return desc_.build(p_); }
  /// Allocates the tensors' buffers and a workspace of `workspace` bytes.
  /// Unsupported when the workspace is over the engine's limit.
  Status allocate(size_t workspace);

 protected:
  /// Runs the convolution itself on the context's stream.
  virtual Status launch() = 0;

  std::shared_ptr<Context> ctx_;
  Problem p_;
  Descriptors desc_;
  GuardedBuffer x_, w_, y_, b_, ws_;

 private:
  Status upload(const ConvTensors& t);
  Status download(ConvTensors& t);
  Status poison_outputs();
  Status launch_with_bias();
  Result<float> timed_run();
  GuardedBuffer& buffer(Arg a);
  std::vector<const GuardedBuffer*> all_buffers() const;

  std::string algo_;
  AlgoClass class_ = AlgoClass::exact;
};

/// The legacy API with one algorithm and math mode.
class LegacyPrepared : public ConvPrepared {
 public:
  using ConvPrepared::ConvPrepared;
  /// Sets up descriptors, the algorithm ("default" asks the v7 heuristic), workspace
  /// and buffers. Unsupported where cuDNN declines.
  Status prepare(const std::string& algo);

 protected:
  Status launch() override;

 private:
  Result<LegacyAlgo> heuristic_choice();
  Result<size_t> workspace_size();
  LegacyAlgo algo_choice_;
};

/// Largest workspace the engine will allocate (bytes).
size_t workspace_limit();

/// For cudnn_engine_test only: every execute() in this process that follows writes
/// `bytes` bytes of garbage just past the end of its first output buffer after the
/// convolution, so the guard-band check must fire. 0 (the initial value) turns it off.
void set_test_overrun(int64_t bytes);

}  // namespace convguard::cudnn

// cuDNN 9's backend API: one convolution as an operation graph, run by one engine
// (global index, default knobs) through an execution plan.
#pragma once

#include <vector>

#include <cudnn.h>

#include "engines/cudnn/cudnn_prepared.h"

namespace convguard::cudnn {

/// Owns one cudnnBackendDescriptor_t.
class BackendDesc {
 public:
  BackendDesc() = default;
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;
  ~BackendDesc();
  /// Creates a descriptor of `type`.
  Status create(cudnnBackendDescriptorType_t type);
  cudnnBackendDescriptor_t get() const { return d_; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

/// The operation graph of p's convolution (no bias).
class ConvGraph {
 public:
  /// Builds tensors, the convolution, its operation and the graph.
  Status build(cudnnHandle_t handle, const Problem& p);
  /// Number of engines cuDNN knows for this graph (global indices 0..count-1).
  Result<int64_t> engine_count() const;
  cudnnBackendDescriptor_t graph() const { return graph_.get(); }

 private:
  BackendDesc x_, w_, y_, conv_, op_, graph_;
};

/// Global engine indices that accept p's graph (their engine descriptor finalizes).
Result<std::vector<int>> list_engines(cudnnHandle_t handle, const Problem& p);

/// Numerical notes (cudnnBackendNumericalNote_t values) of engine `index` for p's graph,
/// on a handle of its own (diagnostics and tests).
Result<std::vector<int>> engine_notes(const Problem& p, int index);
/// "TENSOR_CORE,WINOGRAD" for notes.
std::string notes_text(const std::vector<int>& notes);

/// Tensor unique ids in the variant pack.
enum : int64_t { kUidX = 1, kUidW = 2, kUidY = 3 };

class BackendPrepared : public ConvPrepared {
 public:
  using ConvPrepared::ConvPrepared;
  /// Builds graph, engine `index`, its configuration and plan, and the buffers.
  /// Unsupported where cuDNN declines.
  Status prepare(int index);

 protected:
  Status launch() override;

 private:
  Status build_plan(int index, std::vector<int>* notes);
  Status build_variant_pack();

  ConvGraph graph_;
  BackendDesc engine_, config_, plan_, pack_;
  int64_t uids_[3] = {kUidX, kUidW, kUidY};
  void* ptrs_[3] = {};
};

}  // namespace convguard::cudnn

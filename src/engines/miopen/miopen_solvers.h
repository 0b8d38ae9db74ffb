// MIOpen's convolution solver ids as readable algorithm names. MIOpen has no public call
// from a solution id to its name; its ids are append-only (a removed solver's id is never
// given to another), so one table, transcribed from MIOpen's solver registry, names the
// ids of every version up to the one it was taken from. Later ids are "solver<N>".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "convguard/engine.h"

namespace convguard::miopen {

/// The algorithm name of convolution solver `id`: the solver's name as MIOpen registers it
/// (its string id where known, e.g. "ConvBinWinogradRxSf2x3"), template arguments otherwise
/// joined with '_' so that it needs no quoting in a shell ("ConvOclBwdWrW2_4" for
/// ConvOclBwdWrW2<4>), else "solver<id>".
std::string solver_name(uint64_t id);

/// The id of an algorithm name: a name solver_name gives, or "solver<N>". Nullopt otherwise.
std::optional<uint64_t> solver_id(const std::string& name);

/// The error class an algorithm's results are judged with, from MIOpen's algorithm family
/// (miopenConvAlgorithm_t) and, for Winograd, the tile in the solver's name.
AlgoClass solver_class(int algorithm, const std::string& name);

/// The highest id the table names (a newer MIOpen may offer ids above it).
uint64_t last_named_solver();

}  // namespace convguard::miopen

// The grid language: a compact way to name many problems at once, e.g.
//   mb=1 ic=15,16,17,31 oc=ic+16,ic*2+1 ih=32:64:2 kh=3 ph=1
// and the field access that grid, boundary search and shrinking share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convguard/problem.h"
#include "convguard/status.h"
#include "model/limits.h"

namespace convguard {

/// The integer shape fields of a Problem in benchdnn order (g mb ic ih iw oc oh ow kh kw
/// sh sw ph pw dh dw).
const std::vector<std::string_view>& shape_fields();
/// Value of a shape field by name; nullopt for a name that is not one.
std::optional<int64_t> get_field(const Problem& p, std::string_view name);
/// Sets a shape field by name; false for a name that is not one.
bool set_field(Problem& p, std::string_view name, int64_t value);
/// The w counterpart of an h field ("ih" -> "iw", "kh" -> "kw"); empty for other names.
std::string_view width_twin(std::string_view h_field);
/// Recomputes oh and ow from the input fields (benchdnn's deduction).
void deduce_outputs(Problem& p);

/// Default cap on the number of combinations one grid may name.
inline constexpr size_t kMaxGridCombinations = kMaxProblems;

/// What expand_grid skipped.
struct GridStats {
  size_t combinations = 0;  ///< every combination enumerated, valid or not
  size_t skipped = 0;       ///< combinations that made an invalid problem
  std::string first_skip;   ///< validate()'s message for the first skipped one
};

/// Expands a grid spec over `base`. The spec is space-separated FIELD=VALUES assignments;
/// FIELD is any shape field or dir, dt, layout. VALUES is a comma list of items; an item is
/// an integer expression (+ - * / with parentheses, integers and field names; / truncates)
/// or an inclusive range LO:HI[:STEP] whose bounds are expressions. dir/dt/layout take
/// comma lists of names. A w field not assigned follows its h field when that is assigned
/// (benchdnn's square promotion); oh/ow not assigned are deduced; fields not named keep
/// `base`'s values. Order: the assigned fields in spec order (a field that uses another
/// comes after it), the first outermost, the last varying fastest.
/// Errors name the token and its 1-based column ("grid: unknown field 'icc' at column 12"),
/// empty constant ranges, cyclic references, and a grid over `max_combinations`.
/// Combinations that make an invalid problem are skipped and counted in `stats`; if every
/// combination is invalid the result is an Invalid status quoting the first reason.
Result<std::vector<Problem>> expand_grid(std::string_view spec, const Problem& base,
                                         GridStats* stats = nullptr,
                                         size_t max_combinations = kMaxGridCombinations);

}  // namespace convguard

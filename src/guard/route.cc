#include "convguard/route.h"

namespace convguard {
namespace {

std::string tile_text(const Route& r) {
  std::string s = "tiles " + std::to_string(r.geometry.th) + "x" + std::to_string(r.geometry.tw);
  if (r.tiles.max_images) s += " (" + std::to_string(r.tiles.max_images) + " images per call)";
  return s;
}

}  // namespace

const char* to_string(RouteKind k) {
  switch (k) {
    case RouteKind::native: return "native";
    case RouteKind::other_algo: return "other_algo";
    case RouteKind::tiles: return "tiles";
    case RouteKind::split_batch: return "split_batch";
    case RouteKind::split_groups: return "split_groups";
    case RouteKind::cpu: return "cpu";
    case RouteKind::refuse: return "refuse";
  }
  return "?";
}

std::string Route::text() const {
  std::string head;
  switch (kind) {
    case RouteKind::native: head = "native algo " + algo; break;
    case RouteKind::other_algo: head = "other algo " + algo; break;
    case RouteKind::tiles: head = tile_text(*this); break;
    case RouteKind::split_batch: head = "split batch <= " + std::to_string(split.max_mb); break;
    case RouteKind::split_groups:
      head = "split groups <= " + std::to_string(split.max_groups);
      break;
    case RouteKind::cpu: head = "cpu"; break;
    case RouteKind::refuse: return "refuse (" + reason + ")";
  }
  return head + " on " + engine + " (" + reason + ")";
}

}  // namespace convguard

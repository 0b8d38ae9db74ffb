// The fake HIP runtime's device properties: the name at offset 0 as in hipDeviceProp_t,
// gcnArchName somewhere after it (the engine finds it by its "gfx" prefix, as it must for
// the real struct, whose layout differs between ROCm releases).
#pragma once

namespace convguard::miopen {

struct FakeDeviceProps {
  char name[256];
  char padding[904];
  char gcnArchName[256];
};

}  // namespace convguard::miopen

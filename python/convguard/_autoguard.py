"""Installs the guard at interpreter start-up when CONVGUARD_PROFILE is set (the .pth file that
pip installs beside the package imports this), so an unchanged `python train.py` is guarded:

    CONVGUARD_PROFILE=card.profile.json CONVGUARD_LEARN=1 python train.py

Also read: CONVGUARD_QUIRKS (a quirk file for the native path), CONVGUARD_DEVICE (cuda or cpu),
CONVGUARD_ROUTES=1 (print the routes at exit, on stderr).
"""

import os


def _install():
    profile = os.environ.get("CONVGUARD_PROFILE")
    if not profile:
        return
    import atexit
    import sys

    import convguard.torch as cg

    g = cg.guard(profile, learn=os.environ.get("CONVGUARD_LEARN", "") not in ("", "0"),
                 quirks=os.environ.get("CONVGUARD_QUIRKS") or None,
                 device=os.environ.get("CONVGUARD_DEVICE") or None)
    g.__enter__()

    def _finish():
        if os.environ.get("CONVGUARD_ROUTES", "") not in ("", "0"):
            print(cg.format_routes(), file=sys.stderr)
        g.__exit__(None, None, None)

    atexit.register(_finish)


_install()

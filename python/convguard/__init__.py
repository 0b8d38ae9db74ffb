"""convguard's Python side: `convguard.scan` lists a PyTorch model's convolutions as a benchdnn
batch file that `convguard probe|sweep --batch` reads."""

"""Write CLINC150's train and val splits as CSVs (text,intent) for `manage.py evaluate_retrieval`.

    python bench/retrieval_clinc_csv.py ../shared/data bench/out/clinc150
Out-of-scope rows are left out: a hit is a ticket with the same intent, and "oos" is not one.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(data_dir: Path, out_dir: Path) -> None:
    splits = json.loads((data_dir / "clinc150" / "clinc150_train_val.json").read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        with open(out_dir / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "intent"])
            writer.writerows(splits[split])
    print(json.dumps({split: len(splits[split]) for split in ("train", "val")}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

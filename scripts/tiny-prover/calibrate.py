"""Calibrates the fast verifier's flag threshold for the tiny demo checkpoint and writes it to
tests/fixtures/tiny-prover/proofwright.json (not run by CI).

It writes the corpus twice into a scratch folder: once as written (proofs Lean should accept) and
once with one corruption per theorem from train.py (a misspelled or wrong lemma, a tactic that
cannot work, a missing case: proofs Lean would reject). `proofwright check --threshold 1 --format
json` then reports every step's score; a proof's score for this purpose is its weakest step.
The threshold is the value that separates the two sets best (balanced accuracy), and the file
records the counts it was chosen from.

    .venv/bin/python scripts/tiny-prover/calibrate.py [--binary target/release/proofwright]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train  # noqa: E402  (the corpus reader and corruptions)

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "tests" / "fixtures" / "tiny-prover"


def write_files(folder: Path, broken: bool) -> dict[str, str]:
    """Writes one Lean file per corpus file; returns theorem name -> kind of corruption."""
    files, theorems = train.read_corpus()
    by_name = {theorem.declaration.name: theorem for theorem in theorems}
    kinds: dict[str, str] = {}
    for file_name, declarations in files.items():
        blocks = []
        for declaration in declarations:
            theorem = by_name.get(declaration.name)
            if broken and theorem is not None:
                corruptions = train.corruptions(theorem)
                if not corruptions:
                    continue
                corruption = corruptions[0]
                kinds[declaration.name] = corruption.kind
                blocks.append(train.declaration_with_body(theorem, corruption.body))
            else:
                if theorem is not None:
                    kinds[declaration.name] = "correct"
                blocks.append(declaration.text)
        (folder / file_name).write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return kinds


def weakest_steps(binary: Path, folder: Path) -> dict[str, float]:
    command = [
        str(binary), "check", str(folder), "--model", str(MODEL_DIR), "--lean", "off",
        "--format", "json", "--threshold", "1", "--rounds", "0", "--samples", "1",
        "--max-new-tokens", "1",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode not in (0, 1):
        sys.exit(f"check failed ({completed.returncode}): {completed.stderr}")
    report = json.loads(completed.stdout)
    weakest = {}
    for file in report["files"]:
        for proof in file["proofs"]:
            scores = [step["score"] for step in proof["flagged"] if step["score"] is not None]
            if proof["declaration"] and scores:
                weakest[proof["declaration"]] = min(scores)
    return weakest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "proofwright")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        correct_folder = Path(scratch) / "correct"
        broken_folder = Path(scratch) / "broken"
        correct_folder.mkdir()
        broken_folder.mkdir()
        write_files(correct_folder, broken=False)
        broken_kinds = write_files(broken_folder, broken=True)
        correct = weakest_steps(arguments.binary, correct_folder)
        broken = {name: score for name, score in weakest_steps(arguments.binary, broken_folder).items() if name in broken_kinds}
    candidates = sorted(set(correct.values()) | set(broken.values()))
    best = None
    for low, high in zip(candidates, candidates[1:]):
        threshold = (low + high) / 2
        accepted_correct = sum(score >= threshold for score in correct.values())
        flagged_broken = sum(score < threshold for score in broken.values())
        balanced = (accepted_correct / len(correct) + flagged_broken / len(broken)) / 2
        if best is None or balanced > best[0]:
            best = (balanced, threshold, accepted_correct, flagged_broken)
    balanced, threshold, accepted_correct, flagged_broken = best
    threshold = round(threshold, 3)
    settings = {
        "verifier_threshold": threshold,
        "template": "completion",
        "calibration": (
            f"scripts/tiny-prover/calibrate.py: weakest-step scores of {len(correct)} corpus proofs as "
            f"written and {len(broken)} corrupted ones (one corruption each, from train.py); at "
            f"{threshold} the fast verifier accepts {accepted_correct}/{len(correct)} correct proofs and "
            f"flags {flagged_broken}/{len(broken)} corrupted ones (balanced accuracy {balanced:.3f}). "
            "These are proofs the model memorised: the separation says nothing about unseen theorems."
        ),
    }
    (MODEL_DIR / "proofwright.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(settings, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

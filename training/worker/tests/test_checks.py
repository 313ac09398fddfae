"""Fast checks of config and dataset validation (no torch needed)."""

import json
import os
import tempfile
import unittest

from worker import config, data
from worker.tests import fixtures


class DatasetChecks(unittest.TestCase):
    def load(self, kind, lines):
        fd, path = tempfile.mkstemp(suffix=".jsonl")
        self.addCleanup(os.remove, path)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        return data.load(path, kind)

    def refused(self, kind, lines, *parts):
        with self.assertRaises(data.DataError) as cm:
            self.load(kind, lines)
        for part in parts:
            self.assertIn(part, str(cm.exception))

    def test_our_rows_load_in_trl_shapes(self):
        dpo = self.load("dpo", [json.dumps(r) for r in fixtures.dpo_rows(3)])
        self.assertEqual(set(dpo[0]), {"prompt", "chosen", "rejected"})
        sft = self.load("sft", [json.dumps(r) for r in fixtures.sft_rows(3)])
        self.assertEqual(set(sft[0]), {"prompt", "completion"})
        self.assertEqual([m["role"] for m in sft[0]["prompt"]], ["system", "user"])
        self.assertEqual(sft[0]["completion"][0]["role"], "assistant")

    def test_repo_dataset_goldens_load(self):
        root = os.path.join(fixtures.ROOT, "dataset", "testdata")
        for name, kind in (("dpo_conversational.jsonl", "dpo"), ("dpo_plain.jsonl", "dpo"), ("sft.jsonl", "sft")):
            path = os.path.join(root, name)
            if os.path.exists(path):
                self.assertTrue(data.load(path, kind), name)

    def test_bad_json_names_line(self):
        good = json.dumps(fixtures.dpo_rows(1)[0])
        self.refused("dpo", [good, "{not json"], "line 2", "invalid JSON")

    def test_identical_pair(self):
        row = fixtures.dpo_rows(1)[0]
        row["rejected"] = row["chosen"]
        self.refused("dpo", [json.dumps(row)], "line 1", "chosen and rejected are identical")

    def test_empty_content(self):
        row = fixtures.dpo_rows(1)[0]
        row["chosen"][0]["content"] = "  "
        self.refused("dpo", [json.dumps(row)], "line 1", "chosen[0].content")

    def test_wrong_role(self):
        row = fixtures.sft_rows(1)[0]
        row["messages"][1]["role"] = "bot"
        self.refused("sft", [json.dumps(row)], "line 1", "messages[1].role")

    def test_sft_must_end_with_assistant(self):
        row = fixtures.sft_rows(1)[0]
        row["messages"].pop()
        self.refused("sft", [json.dumps(row)], "must end with an assistant turn")

    def test_empty_file(self):
        self.refused("sft", [""], "no rows")

    def test_split_is_seeded(self):
        rows = list(range(16))
        a = data.split(rows, 0.25, 7)
        self.assertEqual(a, data.split(rows, 0.25, 7))
        self.assertEqual((len(a[0]), len(a[1])), (12, 4))
        self.assertEqual(data.split(rows, 0.01, 7), (rows, []))


class ConfigChecks(unittest.TestCase):
    base = {"model": "m", "dataset": "d.jsonl", "output_dir": "o"}

    def test_defaults(self):
        cfg = config.parse(dict(self.base), "run.json", "dpo")
        self.assertEqual(cfg.lora.target_modules, "all-linear")
        self.assertEqual(cfg.hyper.beta, 0.1)
        self.assertEqual(cfg.hyper.learning_rate, 5e-6)
        self.assertEqual(cfg.hyper.lr_scheduler, "cosine")
        self.assertEqual(cfg.hyper.bf16, "auto")

    def test_unknown_field(self):
        with self.assertRaises(config.ConfigError) as cm:
            config.parse(dict(self.base, hyperparameters={"learnig_rate": 1}), "run.json", "sft")
        self.assertIn("hyperparameters.learnig_rate", str(cm.exception))

    def test_missing_and_wrong_types(self):
        base = self.base
        for raw, part in (({"model": "m", "dataset": "d"}, "output_dir"),
                          (dict(base, lora={"r": "8"}), "lora.r"),
                          (dict(base, eval_fraction=0.9), "eval_fraction"),
                          (dict(base, hyperparameters={"bf16": "yes"}), "bf16")):
            with self.assertRaises(config.ConfigError) as cm:
                config.parse(raw, "run.json", "sft")
            self.assertIn(part, str(cm.exception))


if __name__ == "__main__":
    unittest.main()

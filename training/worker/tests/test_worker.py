"""End-to-end tests: the worker runs as a subprocess on a tiny random Llama on CPU.

Run from training/:  python3 -m unittest discover -s worker/tests -t .
Needs torch, transformers, peft, trl and datasets; skipped when they are missing.
"""

import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

from worker.tests import fixtures

TRAINING_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HAVE_STACK = all(importlib.util.find_spec(n) for n in ("torch", "transformers", "trl", "peft", "datasets"))
LN2 = math.log(2)


def worker_env(extra_path=None):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, TRAINING_DIR, env.get("PYTHONPATH")) if p)
    return env


def parse_events(stdout):
    """Every stdout line must be one JSON object with an event field."""
    events = []
    for line in stdout.splitlines():
        obj = json.loads(line)
        if "event" not in obj:
            raise AssertionError(f"stdout line without event: {line}")
        events.append(obj)
    return events


def run_worker(kind, cfg_path, extra_path=None):
    """Runs the worker to the end and returns (exit code, events, stderr)."""
    p = subprocess.run([sys.executable, "-m", "worker", kind, "--config", cfg_path], cwd=TRAINING_DIR,
                       env=worker_env(extra_path), capture_output=True, text=True, timeout=300)
    return p.returncode, parse_events(p.stdout), p.stderr


def of(events, name):
    return [e for e in events if e["event"] == name]


class WorkerCase(unittest.TestCase):
    """Shares one fixture directory (model + datasets) across the tests of a class."""

    @classmethod
    def setUpClass(cls):
        if not HAVE_STACK:
            raise unittest.SkipTest("torch/transformers/peft/trl/datasets not installed")
        cls.tmp = tempfile.mkdtemp(prefix="worker-test-")
        fixtures.write_all(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def config(self, name, kind, out, **hyper):
        h = {"learning_rate": 0.01, "max_steps": 4, "per_device_batch_size": 4, "logging_steps": 1,
             "save_steps": 2, "max_length": 128}
        extra = hyper.pop("top", {})
        h.update(hyper)
        cfg = {"model": os.path.join(self.tmp, "model"), "dataset": os.path.join(self.tmp, f"{kind}.jsonl"),
               "output_dir": os.path.join(self.tmp, out), "lora": {"r": 8, "alpha": 16, "dropout": 0.1},
               "hyperparameters": h, **extra}
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path


class TrainingRuns(WorkerCase):
    """SFT, DPO, DPO from the SFT adapter, resume, in that order (later ones use earlier outputs)."""

    def test_1_sft(self):
        rc, ev, err = run_worker("sft", self.config("sft", "sft", "sft_out", learning_rate=0.05))
        self.assertEqual(rc, 0, err[-3000:])
        self.assertEqual(ev[0]["event"], "start")
        self.assertEqual(ev[0]["device"], "cpu")
        self.assertEqual(ev[0]["max_steps"], 4)
        train = [e for e in of(ev, "metric") if "loss" in e["metrics"]]
        self.assertEqual([e["step"] for e in train], [1, 2, 3, 4])
        for name in ("loss", "mean_token_accuracy", "num_tokens", "learning_rate", "grad_norm"):
            self.assertIn(name, train[0]["metrics"])
        self.assertTrue(all(math.isfinite(e["metrics"]["loss"]) for e in train))
        self.assertEqual([(c["step"], os.path.basename(c["path"])) for c in of(ev, "checkpoint")],
                         [(2, "checkpoint-2"), (4, "checkpoint-4")])
        done = ev[-1]
        self.assertEqual(done["event"], "done")
        self.assertEqual(done["step"], 4)
        self.assertIn("train_loss", done["metrics"])
        with open(os.path.join(done["output"], "adapter_config.json")) as f:
            ac = json.load(f)
        self.assertEqual(ac["peft_type"], "LORA")
        self.assertEqual(ac["r"], 8)
        self.assertEqual({m.rsplit(".", 1)[-1] for m in ac["target_modules"]},
                         {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
        type(self).sft_losses = {e["step"]: e["metrics"]["loss"] for e in train}

    def test_2_dpo_first_loss_is_ln2(self):
        rc, ev, err = run_worker("dpo", self.config("dpo", "dpo", "dpo_out"))
        self.assertEqual(rc, 0, err[-3000:])
        first = of(ev, "metric")[0]
        self.assertEqual(first["step"], 1)
        self.assertAlmostEqual(first["sanity"]["first_loss"], LN2, places=4)
        self.assertEqual(first["sanity"]["ln2"], 0.6931)
        m = first["metrics"]
        for name in ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
                     "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected", "grad_norm"):
            self.assertIn(name, m)
        self.assertEqual(m["rewards/accuracies"], 0.0)  # strict comparison: 0 at step 0
        self.assertEqual(m["rewards/margins"], 0.0)
        later = of(ev, "metric")[3]["metrics"]
        self.assertNotEqual(later["rewards/margins"], 0.0)  # the adapter trains
        self.assertTrue(of(ev, "checkpoint"))
        self.assertEqual(ev[-1]["event"], "done")
        type(self).base_logps = m["logps/chosen"]

    def test_3_dpo_from_sft_adapter(self):
        sft_out = os.path.join(self.tmp, "sft_out")
        top = {"init_adapter": sft_out, "ref_adapter": sft_out}
        rc, ev, err = run_worker("dpo", self.config("dpo_sft", "dpo", "dpo_sft_out", top=top))
        self.assertEqual(rc, 0, err[-3000:])
        first = of(ev, "metric")[0]
        # ln 2 means the reference equals the start; different log-probs from the base run
        # mean the start is the SFT adapter, so the reference is the SFT adapter too.
        self.assertAlmostEqual(first["sanity"]["first_loss"], LN2, places=4)
        self.assertGreater(abs(first["metrics"]["logps/chosen"] - self.base_logps), 1e-3)
        self.assertEqual(ev[-1]["event"], "done")

    def test_4_resume_continues_at_the_right_step(self):
        ckpt = os.path.join(self.tmp, "sft_out", "checkpoint-2")
        out = os.path.join(self.tmp, "resume_out")
        shutil.copytree(ckpt, os.path.join(out, "checkpoint-2"))
        cfg = self.config("resume", "sft", "resume_out", learning_rate=0.05, top={"resume_from": True})
        rc, ev, err = run_worker("sft", cfg)
        self.assertEqual(rc, 0, err[-3000:])
        self.assertEqual(ev[0]["resumed_at_step"], 2)
        train = [e for e in of(ev, "metric") if "loss" in e["metrics"]]
        self.assertEqual([e["step"] for e in train], [3, 4])
        self.assertNotIn("sanity", train[0])
        for e in train:  # the same steps as the uninterrupted run
            self.assertAlmostEqual(e["metrics"]["loss"], self.sft_losses[e["step"]], places=3)
        self.assertEqual(ev[-1]["step"], 4)


class Stops(WorkerCase):
    """SIGTERM and NaN handling."""

    def test_sigterm_saves_a_checkpoint(self):
        cfg = self.config("term", "dpo", "term_out", max_steps=500, save_steps=1000)
        p = subprocess.Popen([sys.executable, "-m", "worker", "dpo", "--config", cfg], cwd=TRAINING_DIR,
                             env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        events = []
        try:
            for line in p.stdout:
                events.append(json.loads(line))
                if events[-1]["event"] == "metric" and events[-1]["step"] == 2:
                    p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
            p.stdout.close()
        self.assertEqual(rc, 4)
        ckpts = of(events, "checkpoint")
        self.assertEqual(len(ckpts), 1)
        self.assertTrue(os.path.isfile(os.path.join(ckpts[0]["path"], "adapter_model.safetensors")))
        self.assertTrue(os.path.isfile(os.path.join(ckpts[0]["path"], "trainer_state.json")))
        last = events[-1]
        self.assertEqual(last["event"], "interrupted")
        self.assertEqual(last["checkpoint"], ckpts[0]["path"])
        self.assertLess(last["step"], 500)

    def test_end_of_stdin_kills_the_run(self):
        """The app's runner holds the worker's stdin open; its end (the app was killed) stops the
        worker at once, even while its stdout is still read, so no orphan goes on training."""
        cfg = self.config("orphan", "sft", "orphan_out", max_steps=500, save_steps=1000)
        env = dict(worker_env(), RUSTEXPERT_STOP_ON_STDIN_EOF="1")
        p = subprocess.Popen([sys.executable, "-m", "worker", "sft", "--config", cfg], cwd=TRAINING_DIR, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             start_new_session=True)
        events = []
        try:
            for line in p.stdout:
                events.append(json.loads(line))
                if events[-1]["event"] == "metric" and events[-1]["step"] == 2:
                    p.stdin.close()
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            p.stdout.close()
        self.assertEqual(rc, -signal.SIGKILL)
        self.assertEqual(of(events, "done"), [])
        self.assertLess(max(e["step"] for e in of(events, "metric")), 500)

    def test_nan_loss_stops_and_keeps_last_good_checkpoint(self):
        cfg = self.config("nan", "sft", "nan_out", learning_rate=1e30, lr_scheduler="constant", save_steps=1,
                          max_steps=6)
        rc, ev, err = run_worker("sft", cfg)
        self.assertEqual(rc, 1, err[-3000:])
        self.assertEqual(ev[-1]["event"], "error")
        self.assertIn("is nan", ev[-1]["message"])
        good = ev[-1]["checkpoint"]
        self.assertTrue(os.path.isfile(os.path.join(good, "adapter_model.safetensors")))
        out = os.path.join(self.tmp, "nan_out")
        self.assertFalse(os.path.exists(os.path.join(out, "adapter_model.safetensors")))
        self.assertEqual([d for d in os.listdir(out) if d.startswith("checkpoint-")], [os.path.basename(good)])


class Refusals(WorkerCase):
    """Inputs refused before any training."""

    def write(self, name, lines):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def test_broken_dataset_names_line_and_field(self):
        rows = [json.dumps(r) for r in fixtures.dpo_rows(4)]
        bad = json.loads(rows[2])
        del bad["rejected"]
        rows[2] = json.dumps(bad)
        data = self.write("broken.jsonl", rows)
        cfg = self.config("broken", "dpo", "broken_out", top={"dataset": data})
        rc, ev, err = run_worker("dpo", cfg)
        self.assertEqual(rc, 2, err[-3000:])
        self.assertEqual([e["event"] for e in ev], ["error"])
        self.assertIn("line 3", ev[0]["message"])
        self.assertIn("field rejected is missing", ev[0]["message"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "broken_out")))

    def test_missing_package_exits_3(self):
        fake = os.path.join(self.tmp, "fake_site")
        os.makedirs(os.path.join(fake, "trl"), exist_ok=True)
        with open(os.path.join(fake, "trl", "__init__.py"), "w") as f:
            f.write("raise ModuleNotFoundError(\"No module named 'trl'\", name='trl')\n")
        rc, ev, err = run_worker("sft", self.config("nopkg", "sft", "nopkg_out"), extra_path=fake)
        self.assertEqual(rc, 3, err[-3000:])
        self.assertEqual(ev[-1]["event"], "error")
        self.assertEqual(ev[-1]["missing"], ["trl"])
        self.assertIn("install", ev[-1]["message"])

    def test_ref_adapter_must_be_the_start(self):
        top = {"init_adapter": os.path.join(self.tmp, "a"), "ref_adapter": os.path.join(self.tmp, "b")}
        rc, ev, err = run_worker("dpo", self.config("refmix", "dpo", "refmix_out", top=top))
        self.assertEqual(rc, 2, err[-3000:])
        self.assertIn("ref_adapter must equal init_adapter", ev[-1]["message"])

    def test_unknown_trainer_arg_is_refused_before_loading(self):
        top = {"trainer_args": {"no_such_setting": 1}}
        rc, ev, err = run_worker("sft", self.config("badarg", "sft", "badarg_out", top=top))
        self.assertEqual(rc, 2, err[-3000:])
        self.assertEqual([e["event"] for e in ev], ["error"])
        self.assertIn("trainer_args.no_such_setting is not a SFTConfig field", ev[0]["message"])

    def test_trainer_args_reach_trl(self):
        top = {"trainer_args": {"max_grad_norm": 0.001}}
        rc, ev, err = run_worker("sft", self.config("gradclip", "sft", "gradclip_out", top=top, max_steps=1))
        self.assertEqual(rc, 0, err[-3000:])
        with open(os.path.join(self.tmp, "gradclip_out", "checkpoint-1", "trainer_state.json")) as f:
            state = json.load(f)
        self.assertEqual(state["global_step"], 1)
        import torch
        args = torch.load(os.path.join(self.tmp, "gradclip_out", "checkpoint-1", "training_args.bin"), weights_only=False)
        self.assertEqual(args.max_grad_norm, 0.001)


class Export(WorkerCase):
    """python3 -m worker export: adapter folders and merged models, ready for the hub."""

    def export(self, name, **fields):
        cfg = {"model": os.path.join(self.tmp, "model"), "output_dir": os.path.join(self.tmp, name), **fields}
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([sys.executable, "-m", "worker", "export", "--config", path], cwd=TRAINING_DIR,
                           env=worker_env(), capture_output=True, text=True, timeout=300)
        return p.returncode, parse_events(p.stdout), p.stderr

    def test_merged_equals_base_plus_adapter(self):
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM
        adapter = os.path.join(self.tmp, "adapter")
        fixtures.write_adapter(os.path.join(self.tmp, "model"), adapter)
        rc, ev, err = self.export("merged", adapter=adapter, merged=True, dtype="float32")
        self.assertEqual(rc, 0, err[-3000:])
        self.assertEqual(ev[-1]["event"], "done")
        self.assertIn("model.safetensors", ev[-1]["files"])
        self.assertIn("tokenizer.json", ev[-1]["files"])
        ids = torch.tensor([[1, 500, 600, 700]])
        with torch.no_grad():
            merged = AutoModelForCausalLM.from_pretrained(os.path.join(self.tmp, "merged"))(ids).logits
            base = AutoModelForCausalLM.from_pretrained(os.path.join(self.tmp, "model"))
            plain = base(ids).logits
            with_adapter = PeftModel.from_pretrained(base, adapter)(ids).logits
        self.assertGreater((plain - with_adapter).abs().max().item(), 1e-3, "the adapter changes nothing")
        self.assertLess((merged - with_adapter).abs().max().item(), 1e-4)

    def test_adapter_folder_and_refusals(self):
        adapter = os.path.join(self.tmp, "adapter2")
        fixtures.write_adapter(os.path.join(self.tmp, "model"), adapter)
        rc, ev, err = self.export("adapter_out", adapter=adapter, base_model_id="org/base-model")
        self.assertEqual(rc, 0, err[-3000:])
        files = set(ev[-1]["files"])
        self.assertTrue({"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= files, files)
        with open(os.path.join(self.tmp, "adapter_out", "adapter_config.json")) as f:
            self.assertEqual(json.load(f)["base_model_name_or_path"], "org/base-model")
        rc, ev, err = self.export("adapter_out", adapter=adapter)
        self.assertEqual(rc, 2)
        self.assertIn("exists and is not empty", ev[-1]["message"])
        rc, ev, err = self.export("nothing", merged=True)
        self.assertEqual(rc, 2)
        self.assertIn("merged needs an adapter", ev[-1]["message"])


class Serve(WorkerCase):
    """python3 -m worker serve: the OpenAI protocol over the base model and its adapters."""

    def test_answers_n_samples_per_model_and_refuses_bad_requests(self):
        import urllib.request
        import urllib.error
        adapter = os.path.join(self.tmp, "serve_adapter")
        fixtures.write_adapter(os.path.join(self.tmp, "model"), adapter)
        cfg = os.path.join(self.tmp, "serve.json")
        with open(cfg, "w") as f:
            json.dump({"model": os.path.join(self.tmp, "model"), "adapters": {"v1": adapter}, "port": 0}, f)
        p = subprocess.Popen([sys.executable, "-m", "worker", "serve", "--config", cfg], cwd=TRAINING_DIR,
                             env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        start = json.loads(p.stdout.readline())
        self.assertEqual(start["event"], "start")
        self.assertEqual(start["models"], ["base", "v1"])
        url = start["url"]

        def post(body):
            req = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    return r.status, json.load(r)
            except urllib.error.HTTPError as e:
                return e.code, json.load(e)

        with urllib.request.urlopen(url + "/models", timeout=30) as r:
            self.assertEqual([m["id"] for m in json.load(r)["data"]], ["base", "v1"])
        msgs = [{"role": "user", "content": "What does ? do in Rust?"}]
        status, out = post({"model": "v1", "messages": msgs, "n": 2, "max_tokens": 5, "temperature": 0.8, "seed": 1})
        self.assertEqual(status, 200, out)
        self.assertEqual(len(out["choices"]), 2)
        self.assertEqual(out["usage"]["completion_tokens"], 10)
        self.assertEqual({c["finish_reason"] for c in out["choices"]}, {"length"})
        greedy = {"messages": msgs, "max_tokens": 6, "temperature": 0}
        _, base = post({"model": "base", **greedy})
        _, tuned = post({"model": "v1", **greedy})
        self.assertNotEqual(base["choices"][0]["message"]["content"], tuned["choices"][0]["message"]["content"],
                            "the adapter should change the greedy answer")
        status, out = post({"model": "v9", "messages": msgs})
        self.assertEqual(status, 400)
        self.assertIn("not served here", out["error"]["message"])
        status, out = post({"model": "v1", "messages": [], "n": 2})
        self.assertEqual(status, 400)
        self.assertIn("messages", out["error"]["message"])


HAVE_BNB = importlib.util.find_spec("bitsandbytes") is not None


class QLoRA(WorkerCase):
    """lora.quantization nf4: the frozen base in 4 bits through bitsandbytes (which also runs on CPU)."""

    @unittest.skipUnless(HAVE_BNB, "bitsandbytes not installed (make train-deps installs it)")
    def test_sft_on_a_4bit_base(self):
        top = {"lora": {"r": 8, "alpha": 16, "dropout": 0.0, "quantization": "nf4"}}
        rc, ev, err = run_worker("sft", self.config("qlora", "sft", "qlora_out", learning_rate=0.05, top=top))
        self.assertEqual(rc, 0, err[-3000:])
        start = ev[0]
        self.assertEqual(start["quantization"], "nf4")
        self.assertEqual(start["base_4bit_layers"], 14)  # 2 layers x 7 projections; the LM head stays dense
        losses = [e["metrics"]["loss"] for e in of(ev, "metric") if "loss" in e["metrics"]]
        self.assertEqual(len(losses), 4)
        self.assertTrue(all(math.isfinite(x) for x in losses))
        self.assertEqual(ev[-1]["event"], "done")
        out = os.path.join(self.tmp, "qlora_out")
        self.assertTrue(os.path.isfile(os.path.join(out, "adapter_model.safetensors")))
        self.assertFalse([n for n in os.listdir(out) if n.startswith(".dense-base")])

    def test_plain_lora_has_no_4bit_layers(self):
        rc, ev, err = run_worker("sft", self.config("plain", "sft", "plain_out", max_steps=1))
        self.assertEqual(rc, 0, err[-3000:])
        self.assertEqual(ev[0]["quantization"], "none")
        self.assertEqual(ev[0]["base_4bit_layers"], 0)

    def test_refused_without_bitsandbytes(self):
        fake = os.path.join(self.tmp, "no_bnb_site")
        os.makedirs(os.path.join(fake, "bitsandbytes"), exist_ok=True)
        with open(os.path.join(fake, "bitsandbytes", "__init__.py"), "w") as f:
            f.write("raise ModuleNotFoundError(\"No module named 'bitsandbytes'\", name='bitsandbytes')\n")
        top = {"lora": {"r": 8, "quantization": "nf4"}}
        rc, ev, err = run_worker("sft", self.config("nobnb", "sft", "nobnb_out", top=top), extra_path=fake)
        self.assertEqual(rc, 2, err[-3000:])
        self.assertEqual([e["event"] for e in ev], ["error"])
        self.assertIn("lora.quantization is nf4", ev[0]["message"])
        self.assertIn("pip install bitsandbytes", ev[0]["message"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "nobnb_out")))

    def test_unknown_quantization_is_refused(self):
        top = {"lora": {"r": 8, "quantization": "int3"}}
        rc, ev, err = run_worker("sft", self.config("int3", "sft", "int3_out", top=top))
        self.assertEqual(rc, 2, err[-3000:])
        self.assertIn("lora.quantization must be one of none, nf4", ev[-1]["message"])


class CompileLayers(WorkerCase):
    """hyperparameters.compile_layers: each decoder layer compiled in place."""

    def test_compiles_each_decoder_layer(self):
        from transformers import AutoModelForCausalLM
        from worker import config, train
        model = AutoModelForCausalLM.from_pretrained(os.path.join(self.tmp, "model"))
        self.assertEqual(train.compile_layers(model), 2)
        self.assertTrue(all(layer._compiled_call_impl is not None for layer in model.model.layers))
        with self.assertRaises(config.ConfigError):
            train.compile_layers(model.lm_head)

    @unittest.skipUnless(HAVE_STACK and importlib.util.find_spec("torch") and __import__("torch").cuda.is_available(),
                         "compiling on CPU takes minutes: run on a CUDA machine")
    def test_dpo_reference_equals_policy_when_compiled(self):
        rc, ev, err = run_worker("dpo", self.config("dpo_cl", "dpo", "dpo_cl_out", max_steps=2, compile_layers=True,
                                                    gradient_checkpointing=False))
        self.assertEqual(rc, 0, err[-3000:])
        self.assertAlmostEqual(of(ev, "metric")[0]["sanity"]["first_loss"], LN2, places=4)


BUNDLED_GGUF = os.path.join(TRAINING_DIR, "..", "models", "base", "SmolLM2-135M-Instruct.Q4_1.gguf")


@unittest.skipUnless(HAVE_STACK and os.path.isfile(BUNDLED_GGUF) and importlib.util.find_spec("gguf"),
                     "needs the bundled base model (make models) and the gguf package")
class BundledGGUF(unittest.TestCase):
    """The bundled base is a GGUF file: the worker loads it through transformers' GGUF reader."""

    def test_loads_model_and_tokenizer(self):
        from worker import config, train
        cfg = config.Config(kind="sft", path="run.json", model=BUNDLED_GGUF, dataset="x", output_dir="y")
        tok = train.load_tokenizer(cfg)
        model = train.load_model(cfg, use_bf16=False)
        self.assertEqual(model.config.num_hidden_layers, 30)
        self.assertEqual(model.config.hidden_size, 576)
        ids = tok.apply_chat_template([{"role": "user", "content": "What is a lifetime in Rust?"}],
                                      add_generation_prompt=True, return_tensors="pt", return_dict=True)
        import torch
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=8, do_sample=False)
        text = tok.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True)
        self.assertTrue(text.strip(), "greedy decoding of the bundled model gave no text")

    def gguf_sft(self, lora):
        """Runs one SFT step on the bundled GGUF with the given lora settings; returns the events."""
        tmp = tempfile.mkdtemp(prefix="worker-gguf-")
        self.addCleanup(shutil.rmtree, tmp, True)
        data = os.path.join(tmp, "sft.jsonl")
        with open(data, "w") as f:
            for row in fixtures.sft_rows(4):
                f.write(json.dumps(row) + "\n")
        cfg = {"model": BUNDLED_GGUF, "dataset": data, "output_dir": os.path.join(tmp, "out"), "lora": lora,
               "hyperparameters": {"max_steps": 1, "per_device_batch_size": 2, "logging_steps": 1, "save_steps": 10,
                                   "max_length": 128, "gradient_checkpointing": False}}
        path = os.path.join(tmp, "run.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        rc, ev, err = run_worker("sft", path)
        self.assertEqual(rc, 0, err[-3000:])
        self.assertEqual(ev[-1]["event"], "done")
        self.assertTrue(os.path.isfile(os.path.join(tmp, "out", "adapter_model.safetensors")))
        return ev

    def test_sft_trains_on_the_gguf(self):
        """transformers marks a GGUF-loaded model quantized and its Trainer refuses to train one;
        the worker clears the mark (the weights are dense after loading)."""
        ev = self.gguf_sft({"r": 4, "alpha": 8})
        self.assertEqual(ev[0]["base_4bit_layers"], 0)

    @unittest.skipUnless(HAVE_BNB, "bitsandbytes not installed (make train-deps installs it)")
    def test_qlora_on_the_gguf(self):
        """A GGUF base cannot be quantized while transformers reads it: the worker goes through
        a dense copy, so QLoRA works on the bundled base too."""
        ev = self.gguf_sft({"r": 4, "alpha": 8, "quantization": "nf4"})
        self.assertEqual(ev[0]["base_4bit_layers"], 30 * 7)


if __name__ == "__main__":
    unittest.main()

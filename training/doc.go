// Package training runs fine-tuning jobs: it launches the Python worker in
// training/worker (python3 -m worker sft|dpo --config run.json), which trains a
// LoRA adapter with Hugging Face TRL and reports progress as JSON lines on stdout
// (start, metric, checkpoint, done, interrupted, error events; metric names are
// TRL's). SIGTERM asks the worker to save a checkpoint and stop. Exit codes: 0
// done, 1 training failed, 2 config or dataset refused, 3 Python package
// missing, 4 stopped by SIGTERM after a checkpoint.
package training

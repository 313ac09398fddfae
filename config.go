package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"rustexpert/handlers"
	"rustexpert/rag"
	"rustexpert/training"
)

// defaultWorkers is how many answers a generation job asks for at once: the built-in engine
// decodes them together in one batch, and model servers batch concurrent requests too.
const defaultWorkers = 8

// Config is the app's whole configuration, from flags with environment fallbacks.
type Config struct {
	Addr          string
	DataDir       string
	DBPath        string
	ModelsDir     string
	LogLevel      string
	Workers       int
	SecureCookies bool
	// Preload names the built-in models serve loads at start ("none": each on first use).
	Preload string
	// Training: the Python that runs the worker, the folder holding the worker package, and how
	// long a worker may take to save a checkpoint after SIGTERM.
	TrainPython string
	TrainDir    string
	TrainGrace  time.Duration
	// Limits for a server reachable by the public: per-client rates, the generation gate, login
	// throttling (0 turns each off).
	Limits handlers.Limits
	// Public lets anonymous visitors chat, battle in the arena and read model cards; TrustedProxies
	// are the proxies whose X-Forwarded-For is believed (public mode without them: loopback).
	Public         bool
	TrustedProxies []netip.Prefix
	// Retrieval: where the docs chunks are kept and searched (ragBackendSQLite or ragBackendQdrant),
	// the Qdrant connection and collection layout, and the variable that holds Qdrant's API key.
	RAGBackend   string
	Qdrant       rag.QdrantConfig
	QdrantKeyEnv string
}

// cliEnv is what every subcommand gets from the process.
type cliEnv struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// flags returns a flag set with the options every command shares, bound to cfg.
func (e *cliEnv) flags(name string, cfg *Config) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&cfg.DataDir, "data", e.env("RUSTEXPERT_DATA", "data"), "data directory (database, dataset snapshots)")
	fs.StringVar(&cfg.DBPath, "db", e.env("RUSTEXPERT_DB", ""), "SQLite database file (default DATA/rustexpert.db)")
	fs.StringVar(&cfg.ModelsDir, "models", e.env("RUSTEXPERT_MODELS", "models"), "folder of the bundled models")
	fs.StringVar(&cfg.LogLevel, "log-level", e.env("RUSTEXPERT_LOG_LEVEL", "info"), "debug, info, warn or error")
	return fs
}

// trainFlags adds the training worker's settings to a command's flags.
func (e *cliEnv) trainFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.TrainPython, "train-python", e.env("RUSTEXPERT_TRAIN_PYTHON", "python3"), "Python with torch, transformers, peft and trl for training runs")
	fs.StringVar(&cfg.TrainDir, "train-dir", e.env("RUSTEXPERT_TRAIN_DIR", "training"), "folder holding the training worker package (worker/)")
	grace, err := time.ParseDuration(e.getenv("RUSTEXPERT_TRAIN_GRACE"))
	if err != nil || grace <= 0 {
		grace = training.DefaultGrace
	}
	fs.DurationVar(&cfg.TrainGrace, "train-grace", grace, "time a canceled worker has to save a checkpoint before SIGKILL")
}

// limitFlags adds serve's limits: defaults for one machine serving a team, each 0 = off.
func (e *cliEnv) limitFlags(fs *flag.FlagSet, l *handlers.Limits) {
	fs.IntVar(&l.RequestsPerMinute, "rate-requests", e.envInt("RUSTEXPERT_RATE_REQUESTS", 600), "requests a minute per client (user, API key, else IP); 0 = off")
	fs.IntVar(&l.TokensPerMinute, "rate-tokens", e.envInt("RUSTEXPERT_RATE_TOKENS", 20000), "generated tokens a minute per client; 0 = off")
	fs.IntVar(&l.Generations, "gen-concurrency", e.envInt("RUSTEXPERT_GEN_CONCURRENCY", 8), "chat, arena and /v1 answers generated at once; 0 = no cap")
	fs.IntVar(&l.GenerationQueue, "gen-queue", e.envInt("RUSTEXPERT_GEN_QUEUE", 32), "answers that may wait for a generation slot; the rest are told the server is busy")
	fs.DurationVar(&l.QueueWait, "gen-wait", e.envDuration("RUSTEXPERT_GEN_WAIT", 20*time.Second), "longest wait for a generation slot")
	fs.IntVar(&l.LoginFailures, "login-failures", e.envInt("RUSTEXPERT_LOGIN_FAILURES", 5), "failed logins of one name or IP before lockouts start; 0 = off")
	fs.DurationVar(&l.LoginLockout, "login-lockout", e.envDuration("RUSTEXPERT_LOGIN_LOCKOUT", 30*time.Second), "first lockout; each further failure doubles it (at most 1h)")
}

// publicFlags adds serve's public mode; the trusted proxies come as text, for parseProxies.
func (e *cliEnv) publicFlags(fs *flag.FlagSet, cfg *Config, proxies *string) {
	fs.BoolVar(&cfg.Public, "public", e.envBool("RUSTEXPERT_PUBLIC", false), "anonymous visitors may use the chat and the arena (each with its own chats, per-IP limits); everything else needs a login")
	fs.StringVar(proxies, "trusted-proxies", e.env("RUSTEXPERT_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (public mode default: loopback)")
}

// parseProxies reads a comma-separated list of addresses and CIDR prefixes.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--trusted-proxies: %q is not an IP address or CIDR prefix", item)}
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (e *cliEnv) envBool(key string, def bool) bool {
	if b, err := strconv.ParseBool(e.getenv(key)); err == nil {
		return b
	}
	return def
}

func (e *cliEnv) envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(e.getenv(key)); err == nil {
		return d
	}
	return def
}

func (e *cliEnv) env(key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

func (e *cliEnv) envInt(key string, def int) int {
	if n, err := strconv.Atoi(e.getenv(key)); err == nil {
		return n
	}
	return def
}

func (e *cliEnv) envFloat(key string, def float64) float64 {
	if f, err := strconv.ParseFloat(e.getenv(key), 64); err == nil {
		return f
	}
	return def
}

// parse parses args, flags before or after the positional arguments, fills the derived
// settings and returns the positional arguments.
func (e *cliEnv) parse(fs *flag.FlagSet, cfg *Config, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(cfg.DataDir, "rustexpert.db")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = defaultWorkers
	}
	return positional, nil
}

func (e *cliEnv) logger(cfg Config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", cfg.LogLevel)}
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})), nil
}

// parseNoArgs is parse for commands that take no positional arguments.
func (e *cliEnv) parseNoArgs(fs *flag.FlagSet, cfg *Config, args []string) error {
	pos, err := e.parse(fs, cfg, args)
	if err == nil && len(pos) > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), pos[0])}
	}
	return err
}

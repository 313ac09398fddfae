package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"rustexpert/bundled"
	"rustexpert/inference/builtin"
	"rustexpert/store"
)

func (e *cliEnv) models(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{modelsUsage}
	}
	switch args[0] {
	case "add":
		return e.modelsAdd(ctx, args[1:])
	case "list":
		return e.modelsList(ctx, args[1:])
	case "fetch":
		return e.modelsFetch(ctx, args[1:])
	case "export":
		return e.modelsExport(ctx, args[1:])
	default:
		return usageError{fmt.Sprintf("unknown models command %q (want add, list, fetch or export)", args[0])}
	}
}

func (e *cliEnv) modelsAdd(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("models add", &cfg)
	endpoint := fs.String("endpoint", "", "base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1")
	base := fs.String("base", "", "built-in engine: a GGUF file or a Hugging Face model folder")
	adapter := fs.String("adapter", "", "built-in engine: a PEFT LoRA adapter folder")
	template := fs.String("template", "", "built-in engine: chat template (chatml, llama3, llama2) instead of the model's own")
	ctxLen := fs.Int("context", 0, "built-in engine: context length limit (default: the model's)")
	served := fs.String("served-name", "", "model name the endpoint expects (default NAME)")
	keyEnv := fs.String("api-key-env", "", "environment variable that holds the API key")
	notes := fs.String("notes", "", "free-text notes")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (*endpoint == "") == (*base == "") {
		return usageError{modelsUsage}
	}
	in := store.ModelInput{Name: pos[0], Provider: store.ProviderOpenAI, Endpoint: *endpoint, ServedName: *served,
		APIKeyEnv: *keyEnv, Notes: *notes}
	if *base != "" {
		in = store.ModelInput{Name: pos[0], Provider: store.ProviderBuiltin, Base: *base, Adapter: *adapter,
			ChatTemplate: *template, ContextLength: *ctxLen, Notes: *notes}
		if err := checkBuiltin(in); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.CreateModel(ctx, in)
	if err != nil {
		return err
	}
	target := m.Endpoint + " (" + m.ServedName + ")"
	if m.Provider == store.ProviderBuiltin {
		target = "built-in engine, " + strings.TrimSpace(m.Base+" "+m.Adapter)
	}
	fmt.Fprintf(e.stdout, "added model %s → %s\n", m.Name, target)
	return nil
}

const modelsUsage = `usage: rustexpert models add NAME (--endpoint URL [--served-name M] [--api-key-env VAR] | --base GGUF_OR_DIR [--adapter DIR] [--template T] [--context N]),
       rustexpert models list, rustexpert models fetch,
       or rustexpert models export NAME --out DIR [--merged] (a Hugging Face folder with a model card)`

// checkBuiltin loads a built-in model once, so a missing file, an unsupported
// architecture or an adapter for another base is refused at registration.
func checkBuiltin(in store.ModelInput) error {
	e, err := builtin.Load(builtinSpec(store.Model{Base: in.Base, Adapter: in.Adapter, ChatTemplate: in.ChatTemplate,
		ContextLength: in.ContextLength}))
	if err != nil {
		return problemsError{fmt.Sprintf("model %s: %v", in.Name, err)}
	}
	return e.Close()
}

// modelsFetch downloads the bundled base model and the embedder into the models folder (a
// no-op for files that are there with the right checksum).
func (e *cliEnv) modelsFetch(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("models fetch", &cfg)
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	index := e.env("PIP_INDEX_URL", bundled.DefaultIndex)
	path, err := bundled.Fetch(ctx, http.DefaultClient, index, cfg.ModelsDir, bundled.Base, e.stdout)
	if err != nil {
		return fmt.Errorf("fetching the bundled model: %w", err)
	}
	fmt.Fprintf(e.stdout, "bundled model ready: %s\n", path)
	path, err = bundled.Fetch(ctx, http.DefaultClient, index, cfg.ModelsDir, bundled.Embedder, e.stdout)
	if err != nil {
		return fmt.Errorf("fetching the embedder: %w", err)
	}
	fmt.Fprintf(e.stdout, "embedder ready: %s\n", filepath.Dir(path))
	return nil
}

func (e *cliEnv) modelsList(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("models list", &cfg)
	err := e.parseNoArgs(fs, &cfg, args)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	models, err := st.ListModels(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPROVIDER\tWHERE\tSERVED AS / ADAPTER")
	for _, m := range models {
		if m.Provider == store.ProviderBuiltin {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Provider, m.Base, m.Adapter)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Provider, m.Endpoint, m.ServedName)
	}
	return tw.Flush()
}

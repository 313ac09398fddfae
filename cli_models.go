package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"rustexpert/store"
)

func (e *cliEnv) models(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"usage: rustexpert models add NAME --endpoint URL [--served-name M] [--api-key-env VAR], or models list"}
	}
	switch args[0] {
	case "add":
		return e.modelsAdd(ctx, args[1:])
	case "list":
		return e.modelsList(ctx, args[1:])
	default:
		return usageError{fmt.Sprintf("unknown models command %q (want add or list)", args[0])}
	}
}

func (e *cliEnv) modelsAdd(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("models add", &cfg)
	endpoint := fs.String("endpoint", "", "base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1")
	served := fs.String("served-name", "", "model name the endpoint expects (default NAME)")
	keyEnv := fs.String("api-key-env", "", "environment variable that holds the API key")
	notes := fs.String("notes", "", "free-text notes")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rustexpert models add NAME --endpoint URL [--served-name M] [--api-key-env VAR]"}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.CreateModel(ctx, store.ModelInput{Name: pos[0], Provider: store.ProviderOpenAI, Endpoint: *endpoint,
		ServedName: *served, APIKeyEnv: *keyEnv, Notes: *notes})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added model %s → %s (%s)\n", m.Name, m.Endpoint, m.ServedName)
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
	fmt.Fprintln(tw, "NAME\tPROVIDER\tENDPOINT\tSERVED AS")
	for _, m := range models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Provider, m.Endpoint, m.ServedName)
	}
	return tw.Flush()
}

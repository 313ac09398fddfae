package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"rustexpert/store"
)

const keysUsage = "usage: rustexpert keys add NAME [--user U], keys list, or keys revoke ID"

func (e *cliEnv) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{keysUsage}
	}
	switch args[0] {
	case "add":
		return e.keysAdd(ctx, args[1:])
	case "list":
		return e.keysList(ctx, args[1:])
	case "revoke":
		return e.keysRevoke(ctx, args[1:])
	default:
		return usageError{fmt.Sprintf("unknown keys command %q (want add, list or revoke)", args[0])}
	}
}

// keysAdd makes an API key for the /v1 API. The key alone goes to stdout, so a script can
// capture it; it is shown this once and never again.
func (e *cliEnv) keysAdd(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("keys add", &cfg)
	userName := fs.String("user", "", "name of the user the key belongs to (default: no user)")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rustexpert keys add NAME [--user U]"}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	userID, err := userIDByName(ctx, st, *userName)
	if err != nil {
		return err
	}
	k, secret, err := st.CreateAPIKey(ctx, pos[0], userID)
	if err != nil {
		return err
	}
	owner := "no user"
	if k.UserName != "" {
		owner = "user " + k.UserName
	}
	fmt.Fprintf(e.stderr, "made API key %d (%s) for %s; copy it now, it is not shown again:\n", k.ID, k.Name, owner)
	fmt.Fprintln(e.stdout, secret)
	return nil
}

// userIDByName finds a user by name as logging in does (case does not matter); "" is no user.
func userIDByName(ctx context.Context, st *store.Store, name string) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, nil
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		return 0, err
	}
	for _, u := range users {
		if strings.EqualFold(u.Name, name) {
			return u.ID, nil
		}
	}
	return 0, fmt.Errorf("--user: no user named %q (rustexpert users list shows them)", name)
}

func (e *cliEnv) keysList(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("keys list", &cfg)
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKEY\tUSER\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, orDash(k.UserName),
			cliTime(k.CreatedAt), cliTime(k.LastUsedAt), cliTime(k.RevokedAt))
	}
	return tw.Flush()
}

func (e *cliEnv) keysRevoke(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("keys revoke", &cfg)
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rustexpert keys revoke ID"}
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return usageError{fmt.Sprintf("keys revoke: %q is not a key id (rustexpert keys list shows them)", pos[0])}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeAPIKey(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked API key %d\n", id)
	return nil
}

// cliTime formats a time for a listing; the zero time is a dash.
func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"rustexpert/store"
)

func (e *cliEnv) users(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"usage: rustexpert users add [--admin | --role ROLE] NAME, or rustexpert users list"}
	}
	switch args[0] {
	case "add":
		return e.usersAdd(ctx, args[1:])
	case "list":
		return e.usersList(ctx, args[1:])
	default:
		return usageError{fmt.Sprintf("unknown users command %q (want add or list)", args[0])}
	}
}

// usersAdd adds a user; the password is read from the first line of stdin
// (or the RUSTEXPERT_PASSWORD environment variable), never from the command line.
func (e *cliEnv) usersAdd(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("users add", &cfg)
	admin := fs.Bool("admin", false, "make the user an admin")
	role := fs.String("role", store.RoleAnnotator, "admin, annotator or viewer")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rustexpert users add [--admin | --role ROLE] NAME (password on stdin)"}
	}
	if *admin {
		*role = store.RoleAdmin
	}
	password := e.getenv("RUSTEXPERT_PASSWORD")
	if password == "" {
		fmt.Fprint(e.stderr, "password: ")
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, pos[0], password, *role)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added %s (%s)\n", u.Name, u.Role)
	return nil
}

func (e *cliEnv) usersList(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("users list", &cfg)
	err := e.parseNoArgs(fs, &cfg, args)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.Format("2006-01-02"))
	}
	return tw.Flush()
}

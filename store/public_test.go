package store

import (
	"errors"
	"testing"
)

func TestVisitorsOwnRowsThatNobodyLogsInAs(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	if _, err := st.VisitorUser(ctx, "tok-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown visitor: err = %v, want ErrNotFound", err)
	}
	a, err := st.CreateVisitor(ctx, "tok-a", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := st.CreateVisitor(ctx, "tok-a", "192.0.2.9")
	if err != nil || again != a {
		t.Fatalf("second CreateVisitor of one token = %d, %v; want %d", again, err, a)
	}
	if got, err := st.VisitorUser(ctx, "tok-a"); err != nil || got != a {
		t.Fatalf("VisitorUser = %d, %v; want %d", got, err, a)
	}
	b, err := st.CreateVisitor(ctx, "tok-b", "192.0.2.1")
	if err != nil || b == a {
		t.Fatalf("second visitor = %d, %v", b, err)
	}
	if _, err := st.CreateVisitor(ctx, " ", "192.0.2.1"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty token: err = %v, want ErrInvalid", err)
	}
	// Visitors keep the first-run setup open and stay off the user list.
	if n, err := st.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers with two visitors = %d, %v; want 0", n, err)
	}
	if _, err := st.CreateUser(ctx, "ada", "password123", RoleAdmin); err != nil {
		t.Fatal(err)
	}
	users, err := st.ListUsers(ctx)
	if err != nil || len(users) != 1 || users[0].Name != "ada" {
		t.Fatalf("ListUsers = %+v, %v; want ada only", users, err)
	}
	var name string
	st.read.QueryRow(`SELECT name FROM users WHERE id = ?`, a).Scan(&name)
	if _, err := st.Authenticate(ctx, name, ""); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("logging in as visitor %q: err = %v, want ErrUnauthorized", name, err)
	}
	if _, err := st.Authenticate(ctx, name, visitorPasswordHash); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("logging in as visitor %q with the marker: err = %v, want ErrUnauthorized", name, err)
	}
}

func TestVisitorArenaCapCountsEveryVisitorOfAnAddress(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	a, _ := st.CreateVisitor(ctx, "tok-a", "192.0.2.1")
	b, _ := st.CreateVisitor(ctx, "tok-b", "192.0.2.1")
	other, _ := st.CreateVisitor(ctx, "tok-c", "198.51.100.7")
	for _, user := range []int64{a, b, other} {
		battle, err := st.CreateArenaBattle(ctx, ArenaBattleInput{UserID: user, Question: "why?", Models: [2]string{"x", "y"}})
		if err != nil {
			t.Fatal(err)
		}
		for side := range 2 {
			if err := st.AnswerArena(ctx, battle.ID, side, ArenaAnswer{Text: "because", Finish: "stop"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.VoteArena(ctx, ArenaVoteInput{BattleID: battle.ID, UserID: user, Vote: ArenaVoteTie, DailyCap: 10}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.VisitorArenaVotesToday(ctx, "192.0.2.1"); err != nil || n != 2 {
		t.Fatalf("votes of 192.0.2.1 = %d, %v; want 2", n, err)
	}
	if err := st.CheckVisitorArenaCap(ctx, "192.0.2.1", 2); !errors.Is(err, ErrConflict) {
		t.Fatalf("two votes under a cap of 2: err = %v, want ErrConflict", err)
	}
	if err := st.CheckVisitorArenaCap(ctx, "198.51.100.7", 2); err != nil {
		t.Fatalf("another address: err = %v", err)
	}
}

func TestModelOriginsNameRunAndDataset(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	base, ds := runFixture(t, st)
	r := createRun(t, st, RunInput{Kind: RunDPO, ParentID: base, DatasetID: ds})
	if _, _, err := st.ClaimRun(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	in := ModelInput{Name: "v2", Provider: ProviderBuiltin, Base: "/models/base.gguf", Adapter: "/runs/1/output", ParentID: base}
	if err := st.FinishRun(ctx, r.ID, RunEnd{Status: RunDone, Model: &in}); err != nil {
		t.Fatal(err)
	}
	v2, err := st.ModelByName(ctx, "v2")
	if err != nil {
		t.Fatal(err)
	}
	origins, err := st.ModelOrigins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := ModelOrigin{RunID: r.ID, RunKind: RunDPO, DatasetID: ds, DatasetKind: "sft", DatasetRows: 3}
	if got := origins[v2.ID]; got != want {
		t.Errorf("origin of v2 = %+v, want %+v", got, want)
	}
	if got := origins[base]; got != (ModelOrigin{}) {
		t.Errorf("origin of base = %+v, want none", got)
	}
}

package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"rustexpert/arena"
	"rustexpert/inference"
	"rustexpert/store"
	"rustexpert/web"
)

// Sampling of arena answers: the same for every contestant.
const (
	arenaTemperature = 0.7
	arenaMaxTokens   = 512
	// arenaSeed fixes the leaderboard's bootstrap, so a page shows the same intervals for the same votes.
	arenaSeed = 1
)

// arenaPool lists the contestants: every registered model and, once documentation is indexed, its
// "+rag" variant.
func (s *Server) arenaPool(ctx context.Context) ([]string, bool, error) {
	models, err := s.store.ListModels(ctx)
	if err != nil {
		return nil, false, err
	}
	withRAG := s.ragReady(ctx)
	var pool []string
	for _, m := range models {
		pool = append(pool, m.Name)
		if withRAG {
			pool = append(pool, m.Name+ragSuffix)
		}
	}
	return pool, withRAG, nil
}

func (s *Server) newArenaPage(r *http.Request) (web.ArenaPage, error) {
	ctx := r.Context()
	pool, withRAG, err := s.arenaPool(ctx)
	if err != nil {
		return web.ArenaPage{}, err
	}
	limit, err := s.store.ArenaDailyCap(ctx)
	if err != nil {
		return web.ArenaPage{}, err
	}
	today, err := s.arenaVotesToday(r)
	if err != nil {
		return web.ArenaPage{}, err
	}
	banner, err := s.arenaBanner(r, withRAG)
	return web.ArenaPage{Nav: s.nav(r, "Arena"), Pool: len(pool), WithRAG: withRAG, VotesToday: today, DailyCap: limit,
		Banner: banner}, err
}

func (s *Server) handleArenaPage(w http.ResponseWriter, r *http.Request) {
	vm, err := s.newArenaPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ArenaView(vm))
}

// handleArenaCreate starts a battle on the typed question, or on a sampled held-out prompt when
// the form asks for one, between two contestants drawn at random, and sends the browser to it.
func (s *Server) handleArenaCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vm, err := s.newArenaPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm.Question = r.FormValue("question")
	refuse := func(status int, err error) {
		vm.Errors = []web.FieldError{{Message: formMessage(err)}}
		s.render(w, r, status, web.ArenaView(vm))
	}
	err = s.store.CheckArenaCap(ctx, userFrom(r).ID, vm.DailyCap)
	if err == nil {
		err = s.checkVisitorArenaCap(r, vm.DailyCap)
	}
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			refuse(http.StatusConflict, err)
			return
		}
		s.error(w, r, err)
		return
	}
	in := store.ArenaBattleInput{UserID: userFrom(r).ID, Question: vm.Question}
	if r.FormValue("sample") != "" {
		p, err := s.store.RandomHeldoutPrompt(ctx)
		if errors.Is(err, store.ErrNotFound) {
			refuse(http.StatusUnprocessableEntity, err)
			return
		}
		if err != nil {
			s.error(w, r, err)
			return
		}
		in.Question, in.PromptID, in.Category = p.Text, p.ID, p.Category
	}
	pool, _, err := s.arenaPool(ctx)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if len(pool) < 2 {
		refuse(http.StatusUnprocessableEntity, fmt.Errorf("%w: a battle needs two models; %d registered", store.ErrInvalid, len(pool)))
		return
	}
	i := rand.IntN(len(pool))
	j := (i + 1 + rand.IntN(len(pool)-1)) % len(pool)
	in.Models = [2]string{pool[i], pool[j]}
	b, err := s.store.CreateArenaBattle(ctx, in)
	if errors.Is(err, store.ErrInvalid) {
		refuse(http.StatusUnprocessableEntity, err)
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/arena/%d", b.ID), http.StatusSeeOther)
}

// userArenaBattle is the battle named in the path when it is the user's; anyone else's is not found.
func (s *Server) userArenaBattle(r *http.Request) (store.ArenaBattle, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return store.ArenaBattle{}, fmt.Errorf("arena battle %q: %w", chi.URLParam(r, "id"), store.ErrNotFound)
	}
	return s.store.UserArenaBattle(r.Context(), userFrom(r).ID, id)
}

// handleArenaBattle shows a battle. The models' names are in the page only after the vote.
func (s *Server) handleArenaBattle(w http.ResponseWriter, r *http.Request) {
	b, err := s.userArenaBattle(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm := web.ArenaBattlePage{Nav: s.nav(r, "Arena"), ID: b.ID, Question: b.Question, Category: b.Category,
		Ready: b.Ready(), Vote: b.Vote, Dropped: b.Dropped}
	for side := range vm.Sides {
		vm.Sides[side] = s.arenaSide(b, side)
	}
	checks, err := s.arenaChecks(r.Context(), b, b.Vote)
	if err != nil {
		s.error(w, r, err)
		return
	}
	for side := range vm.Sides {
		vm.Sides[side].Check = checks[side]
	}
	if vm.Banner, err = s.arenaBanner(r, s.ragReady(r.Context())); err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ArenaBattleView(vm))
}

func (s *Server) arenaSide(b store.ArenaBattle, side int) web.ArenaSide {
	out := web.ArenaSide{Key: arenaSideKeys[side], Label: strings.ToUpper(arenaSideKeys[side]), Pending: !b.Done[side]}
	switch {
	case !b.Done[side]:
	case b.Finish[side] == store.ArenaFinishFailed:
		out.Failed, out.Meta = true, "the model failed to answer"
	default:
		out.Answer = s.md.Component(b.Answers[side])
		out.Meta = fmt.Sprintf("%s · %d tokens", b.Finish[side], b.Tokens[side])
	}
	if b.Vote != "" {
		out.Model = b.Models[side]
	}
	return out
}

var arenaSideKeys = [2]string{"a", "b"}

// arenaSideParam is the side named in the path: a is 0, b is 1.
func arenaSideParam(r *http.Request) (int, error) {
	switch chi.URLParam(r, "side") {
	case "a":
		return 0, nil
	case "b":
		return 1, nil
	}
	return 0, fmt.Errorf("arena side %q: %w", chi.URLParam(r, "side"), store.ErrNotFound)
}

// handleArenaStream writes one side's answer as server-sent events, as the chat's columns do:
// "delta" carries plain text, "done" the answer rendered to sanitized HTML, "failed" a message that
// does not name the model. A side already answered gets its stored answer at once. A reader who
// leaves stops the model; nothing is stored then, and the next stream asks again.
func (s *Server) handleArenaStream(w http.ResponseWriter, r *http.Request) {
	b, err := s.userArenaBattle(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	side, err := arenaSideParam(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	switch {
	case !b.Done[side]:
		done, ok := s.startGeneration(w, r)
		if ok {
			done(s.answerArena(r, newEventStream(w), b, side))
		}
	case b.Finish[side] == store.ArenaFinishFailed:
		newEventStream(w).failed(arenaFailure)
	default:
		newEventStream(w).done(s.md.HTML(b.Answers[side]), b.Finish[side], b.Tokens[side])
	}
}

// arenaFailure is what the voter reads about a failed side: the model stays anonymous.
const arenaFailure = "the model failed to answer; start a new battle"

// answerArena runs one side's model on the battle's question and stores the answer; it returns the
// tokens generated.
func (s *Server) answerArena(r *http.Request, ev *eventStream, b store.ArenaBattle, side int) int {
	ctx := r.Context()
	label := strings.ToUpper(arenaSideKeys[side])
	m, gen, err := s.apiGenerator(ctx, b.Models[side]) // resolves "+rag" names as /v1 does
	if err != nil {
		s.arenaFailed(r, ev, b, side, err)
		return 0
	}
	req := inference.Request{Model: m.ServedName, Messages: []inference.Message{{Role: store.ChatRoleUser, Content: b.Question}}, N: 1,
		Params: inference.Params{Temperature: arenaTemperature, MaxTokens: arenaMaxTokens}}
	res, err := gen.Chat(ctx, req, func(d inference.Delta) { ev.delta(strings.ReplaceAll(d.Text, "\r", "")) })
	if ctx.Err() != nil {
		return 0
	}
	if err == nil && len(res.Choices) == 0 {
		err = errors.New("the model gave no answer")
	}
	if err != nil {
		s.arenaFailed(r, ev, b, side, err)
		return 0
	}
	a := store.ArenaAnswer{Text: strings.ReplaceAll(res.Choices[0].Text, "\r", ""), Finish: finishReason(res.Choices[0]),
		Tokens: res.Usage.CompletionTokens}
	if err := s.store.AnswerArena(ctx, b.ID, side, a); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			s.log.Error("store arena answer", slog.Int64("battle_id", b.ID), slog.String("side", label), slog.Any("error", err))
			ev.failed("the answer could not be stored")
			return a.Tokens
		}
		// Another stream of the same side stored first: show that one.
		if b, err = s.store.UserArenaBattle(ctx, b.UserID, b.ID); err == nil {
			a = store.ArenaAnswer{Text: b.Answers[side], Finish: b.Finish[side], Tokens: b.Tokens[side]}
		}
	}
	ev.done(s.md.HTML(a.Text), a.Finish, a.Tokens)
	return a.Tokens
}

// arenaFailed logs a side's failure with its model, stores the side as failed and tells the reader
// without naming the model.
func (s *Server) arenaFailed(r *http.Request, ev *eventStream, b store.ArenaBattle, side int, err error) {
	s.log.Warn("arena answer failed", slog.Int64("battle_id", b.ID), slog.String("model", b.Models[side]), slog.Any("error", err))
	if err := s.store.AnswerArena(context.WithoutCancel(r.Context()), b.ID, side, store.ArenaAnswer{Finish: store.ArenaFinishFailed}); err != nil &&
		!errors.Is(err, store.ErrConflict) {
		s.log.Error("store arena failure", slog.Int64("battle_id", b.ID), slog.Any("error", err))
	}
	ev.failed(arenaFailure)
}

// arenaVoteJSON is the answer to a vote: the names, now revealed, and each side's compiler badge
// (HTML: the stored verdict or the placeholder that fetches it; "" for none).
type arenaVoteJSON struct {
	Vote    string    `json:"vote"`
	Label   string    `json:"label"`
	Models  [2]string `json:"models"`
	Dropped string    `json:"dropped"`
	Checks  [2]string `json:"checks"`
}

// handleArenaVote records the battle's one vote. Answers that name a model (a registered name as a
// word, or a model family) mark the battle dropped: the vote is kept but not counted. A browser
// asking for JSON gets the revealed names; a plain form goes back to the battle.
func (s *Server) handleArenaVote(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := s.userArenaBattle(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	limit, err := s.store.ArenaDailyCap(ctx)
	if err != nil {
		s.error(w, r, err)
		return
	}
	id, err := s.arenaIdentity(ctx)
	if err == nil {
		err = s.checkVisitorArenaCap(r, limit)
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	voted, err := s.store.VoteArena(ctx, store.ArenaVoteInput{BattleID: b.ID, UserID: b.UserID, Vote: r.FormValue("vote"),
		Dropped: arenaDropReason(id, b), DailyCap: limit})
	if err != nil {
		s.error(w, r, err)
		return
	}
	if !wantsJSON(r) {
		http.Redirect(w, r, fmt.Sprintf("/arena/%d", b.ID), http.StatusSeeOther)
		return
	}
	out := arenaVoteJSON{Vote: voted.Vote, Label: web.ArenaVoteLabel(voted.Vote), Models: voted.Models, Dropped: voted.Dropped}
	checks, err := s.arenaChecks(ctx, b, voted.Vote)
	if err != nil {
		s.error(w, r, err)
		return
	}
	for side, c := range checks {
		out.Checks[side] = s.componentHTML(ctx, web.ChatCheckView(c))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// arenaIdentity is what would give a contestant away: every registered name and the families of
// the built-in models' weights.
func (s *Server) arenaIdentity(ctx context.Context) (arena.Identity, error) {
	models, err := s.store.ListModels(ctx)
	if err != nil {
		return arena.Identity{}, err
	}
	var id arena.Identity
	for _, m := range models {
		id.Names = append(id.Names, m.Name)
		if f := arena.Family(m.Base); f != "" {
			id.Families = append(id.Families, f)
		}
	}
	return id, nil
}

// arenaDropReason says which answer names a model, or "" when neither does.
func arenaDropReason(id arena.Identity, b store.ArenaBattle) string {
	for side, answer := range b.Answers {
		if name := id.NamedIn(answer); name != "" {
			return fmt.Sprintf("answer %s names %q", strings.ToUpper(arenaSideKeys[side]), name)
		}
	}
	return ""
}

// arenaOutcomes maps stored votes to the outcomes the fit counts.
var arenaOutcomes = map[string]arena.Outcome{store.ArenaVoteA: arena.WinA, store.ArenaVoteB: arena.WinB,
	store.ArenaVoteTie: arena.Tie, store.ArenaVoteBothBad: arena.BothBad}

// handleArenaLeaderboard fits the counted votes (all categories, or the one asked for) and shows
// the ratings with their intervals, the online Elo and the two matrices.
func (s *Server) handleArenaLeaderboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vm := web.ArenaLeaderboardPage{Nav: s.nav(r, "Arena"), Category: r.URL.Query().Get("category")}
	var err error
	if vm.Categories, err = s.store.ArenaCategories(ctx); err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.fillLeaderboardPage(ctx, &vm); err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ArenaLeaderboardView(vm))
}

func fillLeaderboard(vm *web.ArenaLeaderboardPage, res arena.Result) {
	vm.Rounds, vm.Models = res.Rounds, res.Models
	for _, r := range res.Ratings {
		vm.Rows = append(vm.Rows, web.ArenaRow{Rank: r.Rank, Model: r.Model, Rating: fmt.Sprintf("%.0f", r.Score),
			CI: fmt.Sprintf("%+.0f / %+.0f", r.Lo-r.Score, r.Hi-r.Score), Elo: fmt.Sprintf("%.0f", r.Elo),
			Battles: r.Battles, WinRate: fmt.Sprintf("%.0f%%", 100*r.WinRate())})
	}
	for i := range res.Models {
		fracs := make([]web.ArenaCell, len(res.Models))
		counts := make([]web.ArenaCell, len(res.Models))
		for j := range res.Models {
			f, n := res.WinFraction[i][j], res.Count[i][j]
			fracs[j] = web.ArenaCell{Text: "—", Class: "wf-none"}
			counts[j] = web.ArenaCell{Text: "—", Class: "wf-none"}
			if !math.IsNaN(f) {
				fracs[j] = web.ArenaCell{Text: fmt.Sprintf("%.2f", f), Class: fmt.Sprintf("wf-%d", min(9, int(f*10)))}
				counts[j] = web.ArenaCell{Text: strconv.Itoa(n), Class: "arena-count"}
			}
		}
		vm.WinFraction = append(vm.WinFraction, fracs)
		vm.Count = append(vm.Count, counts)
	}
}

package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"rustexpert/eval"
	"rustexpert/store"
	"rustexpert/web"
)

// maxFirstErrorBytes bounds the first error kept with a check, as the background checks do.
const maxFirstErrorBytes = 300

// Compiler badges of chat answers and (after the vote) arena answers. A page shows a stored verdict
// at once; an answer not checked yet gets a placeholder that asks the check route for its badge
// when the page shows it, so streaming never waits for the compiler. The check route compiles the
// stored answer (the Checker's own bound limits how many compile at once; code whose hash has a
// stored verdict is not compiled again), stores the verdict and answers with the badge fragment.

// chatCheckPath is where a chat answer's badge is fetched.
func chatCheckPath(chatID, seq int64) string {
	return fmt.Sprintf("/chat/%d/turns/%d/check", chatID, seq)
}

// arenaCheckPath is where an arena answer's badge is fetched.
func arenaCheckPath(battleID int64, side int) string {
	return fmt.Sprintf("/arena/%d/check/%s", battleID, arenaSideKeys[side])
}

// storedBadge is a stored check as a badge.
func storedBadge(c store.Check) web.AnswerCheck {
	return answerCheck(map[int64]store.Check{0: c}, 0)
}

// chatAnswerCheck is an answer turn's badge: the stored verdict, else on the owner's page (live)
// a placeholder when the server has a compiler, else nothing (a shared link never checks).
func (s *Server) chatAnswerCheck(t store.ChatTurn, live bool) web.ChatCheck {
	switch {
	case t.Check != nil:
		return web.ChatCheck{Check: storedBadge(*t.Check)}
	case live && s.cfg.Checker != nil:
		return web.ChatCheck{URL: chatCheckPath(t.ChatID, t.Seq)}
	}
	return web.ChatCheck{}
}

// chatDoneOf is the done event of a stored answer: its HTML, finish, tokens, badge and sampling.
func (s *Server) chatDoneOf(ctx context.Context, t store.ChatTurn) chatDone {
	return chatDone{HTML: s.md.HTML(t.Content), FinishReason: t.FinishReason, Tokens: t.Tokens,
		Check: s.componentHTML(ctx, web.ChatCheckView(s.chatAnswerCheck(t, true))), Sampling: samplingText(t.Sampling)}
}

// componentHTML renders a fragment to a string for an event or a JSON answer.
func (s *Server) componentHTML(ctx context.Context, c templ.Component) string {
	var b strings.Builder
	if err := c.Render(ctx, &b); err != nil {
		s.log.Warn("render fragment", slog.Any("error", err))
		return ""
	}
	return b.String()
}

// handleChatCheck answers with the badge of one of the user's chat answers (the turn in the path),
// checking the answer first when it has no stored verdict.
func (s *Server) handleChatCheck(w http.ResponseWriter, r *http.Request) {
	chat, err := s.userChat(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	turn, err := s.chatAnswerTurn(r, chat.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if turn.Check != nil || s.cfg.Checker == nil {
		s.render(w, r, http.StatusOK, web.ChatCheckView(s.chatAnswerCheck(turn, false)))
		return
	}
	c, err := s.checkAnswer(r.Context(), turn.Content)
	if r.Context().Err() != nil {
		return // the page is gone; the next one asks again
	}
	if err != nil {
		s.log.Warn("check chat answer", slog.Int64("chat_id", chat.ID), slog.Int64("seq", turn.Seq), slog.Any("error", err))
		s.render(w, r, http.StatusOK, web.ChatCheckView(web.ChatCheck{Check: web.AnswerCheck{State: "error", Lints: -1}}))
		return
	}
	if err := s.store.SaveChatCheck(r.Context(), chat.ID, turn.Seq, turn.Content, c); err != nil && !errors.Is(err, store.ErrConflict) {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ChatCheckView(web.ChatCheck{Check: storedBadge(c)}))
}

// chatAnswerTurn is the answer turn named in the path; a question or a missing turn is not found.
func (s *Server) chatAnswerTurn(r *http.Request, chatID int64) (store.ChatTurn, error) {
	seq, err := strconv.ParseInt(chi.URLParam(r, "turn"), 10, 64)
	if err != nil {
		return store.ChatTurn{}, fmt.Errorf("chat %d turn %q: %w", chatID, chi.URLParam(r, "turn"), store.ErrNotFound)
	}
	turns, err := s.store.ChatTurns(r.Context(), chatID)
	if err != nil {
		return store.ChatTurn{}, err
	}
	for _, t := range turns {
		if t.Seq == seq && t.Role == store.ChatRoleAssistant {
			return t, nil
		}
	}
	return store.ChatTurn{}, fmt.Errorf("chat %d: no answer %d: %w", chatID, seq, store.ErrNotFound)
}

// checkAnswer gives the compiler's verdict on an answer's Rust code: none (prose), the stored
// verdict on the same code, or a new check.
func (s *Server) checkAnswer(ctx context.Context, text string) (store.Check, error) {
	p, ok := eval.NewProgram(eval.Extract(text))
	if !ok {
		return store.Check{Lints: -1}, nil
	}
	known, err := s.store.CheckByCodeHash(ctx, s.cfg.Checker.Hash(p))
	if err == nil {
		return known, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.Check{}, err
	}
	res, err := s.cfg.Checker.Check(ctx, p)
	if err != nil {
		return store.Check{}, err
	}
	c := store.Check{CodeHash: res.CodeHash, HasCode: true, Compiles: res.Compiles, Errors: res.Errors, Warnings: res.Warnings,
		Lints: res.Lints, TimedOut: res.TimedOut}
	if res.First != nil {
		c.FirstError = firstErrorLine(*res.First)
	}
	return c, nil
}

// firstErrorLine is an error as one line: "E0382: borrow of moved value: `v` (line 4)", at most
// maxFirstErrorBytes.
func firstErrorLine(d eval.Diagnostic) string {
	s := d.Message
	if d.Code != "" {
		s = d.Code + ": " + s
	}
	if d.Line > 0 {
		s += fmt.Sprintf(" (line %d)", d.Line)
	}
	if len(s) > maxFirstErrorBytes {
		cut := maxFirstErrorBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// arenaSideCheck is a side's badge on the battle page: nothing before the vote (a verdict could
// sway the voter) or for a failed side; after it the stored verdict, else a placeholder when the
// server has a compiler.
func (s *Server) arenaSideCheck(b store.ArenaBattle, vote string, side int, checks map[int]store.Check) web.ChatCheck {
	if vote == "" || !b.Done[side] || b.Finish[side] == store.ArenaFinishFailed {
		return web.ChatCheck{}
	}
	if c, ok := checks[side]; ok {
		return web.ChatCheck{Check: storedBadge(c)}
	}
	if s.cfg.Checker != nil {
		return web.ChatCheck{URL: arenaCheckPath(b.ID, side)}
	}
	return web.ChatCheck{}
}

// arenaChecks is both sides' badges of a voted battle; before the vote, none (and nothing is read).
func (s *Server) arenaChecks(ctx context.Context, b store.ArenaBattle, vote string) ([2]web.ChatCheck, error) {
	var out [2]web.ChatCheck
	if vote == "" {
		return out, nil
	}
	checks, err := s.store.ArenaChecks(ctx, b.ID)
	if err != nil {
		return out, err
	}
	for side := range out {
		out[side] = s.arenaSideCheck(b, vote, side, checks)
	}
	return out, nil
}

// handleArenaCheck answers with the badge of one side of the user's battle, checking the answer
// first when it has no stored verdict. Before the vote it is refused.
func (s *Server) handleArenaCheck(w http.ResponseWriter, r *http.Request) {
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
	if b.Vote == "" {
		s.error(w, r, fmt.Errorf("%w: the answers are checked after the vote", store.ErrConflict))
		return
	}
	if !b.Done[side] || b.Finish[side] == store.ArenaFinishFailed {
		s.error(w, r, fmt.Errorf("arena battle %d side %s: no answer: %w", b.ID, arenaSideKeys[side], store.ErrNotFound))
		return
	}
	checks, err := s.store.ArenaChecks(r.Context(), b.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if _, ok := checks[side]; ok || s.cfg.Checker == nil {
		s.render(w, r, http.StatusOK, web.ChatCheckView(s.arenaSideCheck(b, b.Vote, side, checks)))
		return
	}
	c, err := s.checkAnswer(r.Context(), b.Answers[side])
	if r.Context().Err() != nil {
		return
	}
	if err != nil {
		s.log.Warn("check arena answer", slog.Int64("battle_id", b.ID), slog.String("side", arenaSideKeys[side]), slog.Any("error", err))
		s.render(w, r, http.StatusOK, web.ChatCheckView(web.ChatCheck{Check: web.AnswerCheck{State: "error", Lints: -1}}))
		return
	}
	if err := s.store.SaveArenaCheck(r.Context(), b.ID, side, c); err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ChatCheckView(web.ChatCheck{Check: storedBadge(c)}))
}

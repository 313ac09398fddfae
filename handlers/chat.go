package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"rustexpert/inference"
	"rustexpert/rag"
	"rustexpert/store"
	"rustexpert/web"
)

// Side-by-side chat defaults and limits.
const (
	defaultChatColumnTemperature = "0.7"
	defaultChatColumnTopP        = "1"
	defaultChatColumnMaxTokens   = "512"
	maxChatColumnTokens          = 4096
	chatListSize                 = 20
	// finishStopped marks an answer the reader stopped; its text is what was written until then.
	finishStopped = "stopped"
)

// chatSampling is a column's validated sampling settings.
type chatSampling struct {
	temperature float64
	topP        float64
	maxTokens   int
}

// stored is the settings as kept with the answer.
func (p chatSampling) stored() store.ChatSampling {
	return store.ChatSampling{Temperature: p.temperature, TopP: p.topP, MaxTokens: p.maxTokens}
}

// checkChatSampling reads a column's settings as typed; a problem names the column and the field.
func checkChatSampling(col int, temperature, topP, maxTokens string) (chatSampling, []web.FieldError) {
	var p chatSampling
	var errs []web.FieldError
	var err error
	where := fmt.Sprintf("column %d ", col+1)
	if p.temperature, err = strconv.ParseFloat(temperature, 64); err != nil || p.temperature < 0 || p.temperature > 2 {
		errs = append(errs, web.FieldError{Field: where + "temperature", Message: fmt.Sprintf("%q is not a number from 0 to 2", temperature)})
	}
	if p.topP, err = strconv.ParseFloat(topP, 64); err != nil || !(p.topP > 0 && p.topP <= 1) {
		errs = append(errs, web.FieldError{Field: where + "top-p", Message: fmt.Sprintf("%q is not a number above 0, at most 1", topP)})
	}
	if p.maxTokens, err = strconv.Atoi(maxTokens); err != nil || p.maxTokens < 1 || p.maxTokens > maxChatColumnTokens {
		errs = append(errs, web.FieldError{Field: where + "max tokens", Message: fmt.Sprintf("%q is not a whole number from 1 to %d", maxTokens, maxChatColumnTokens)})
	}
	return p, errs
}

// defaultChatColumns picks the new chat's columns: v1 and v2 when registered, then the first models
// by name, up to store.MaxChatColumns.
func defaultChatColumns(models []store.Model) []web.ChatColumn {
	var picked []store.Model
	for _, name := range []string{"v1", "v2"} {
		if i := slices.IndexFunc(models, func(m store.Model) bool { return m.Name == name }); i >= 0 {
			picked = append(picked, models[i])
		}
	}
	for _, m := range models {
		if len(picked) < store.MaxChatColumns && !slices.Contains(picked, m) {
			picked = append(picked, m)
		}
	}
	cols := make([]web.ChatColumn, store.MaxChatColumns)
	for i := range cols {
		cols[i] = web.ChatColumn{Index: i, Temperature: defaultChatColumnTemperature, TopP: defaultChatColumnTopP,
			MaxTokens: defaultChatColumnMaxTokens}
		if i < len(picked) {
			cols[i].ModelID, cols[i].Model = strconv.FormatInt(picked[i].ID, 10), picked[i].Name
		}
	}
	return cols
}

func (s *Server) handleChatPage(w http.ResponseWriter, r *http.Request) {
	vm, err := s.newChatPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ChatView(vm))
}

func (s *Server) newChatPage(r *http.Request) (web.ChatPage, error) {
	models, err := s.store.ListModels(r.Context())
	if err != nil {
		return web.ChatPage{}, err
	}
	chats, err := s.chatLinks(r)
	if err != nil {
		return web.ChatPage{}, err
	}
	vm := web.ChatPage{Nav: s.nav(r, "Chat"), Columns: defaultChatColumns(models), Chats: chats}
	for _, m := range models {
		vm.Models = append(vm.Models, web.ModelOption{ID: m.ID, Name: m.Name})
	}
	if isVisitor(r) {
		s.publicChatColumns(r.Context(), vm.Columns)
	}
	vm.Banner, err = s.chatBanner(r, vm.Columns)
	return vm, err
}

func (s *Server) chatLinks(r *http.Request) ([]web.ChatLink, error) {
	chats, err := s.store.ListChats(r.Context(), userFrom(r).ID, chatListSize)
	if err != nil {
		return nil, err
	}
	links := make([]web.ChatLink, len(chats))
	for i, c := range chats {
		links[i] = web.ChatLink{ID: c.ID, Title: c.Title, CreatedAt: c.CreatedAt.Local().Format(timeLayout)}
	}
	return links, nil
}

// handleChatCreate starts a chat with the picked columns and sends the browser to it, where the
// columns' answers stream. The sampling settings travel in the address, as the page's inputs.
func (s *Server) handleChatCreate(w http.ResponseWriter, r *http.Request) {
	vm, err := s.newChatPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm.Question = r.FormValue("question")
	var specs []store.ChatColumnSpec
	next := url.Values{}
	for i := range vm.Columns {
		c := &vm.Columns[i]
		k := strconv.Itoa(i)
		c.ModelID = r.FormValue("model_" + k)
		c.Temperature = strings.TrimSpace(r.FormValue("temperature_" + k))
		c.TopP = orDefault(strings.TrimSpace(r.FormValue("top_p_"+k)), defaultChatColumnTopP)
		c.MaxTokens = strings.TrimSpace(r.FormValue("max_tokens_" + k))
		c.RAG = r.FormValue("rag_"+k) != ""
		if c.ModelID == "" {
			continue
		}
		id, perr := strconv.ParseInt(c.ModelID, 10, 64)
		_, errs := checkChatSampling(i, c.Temperature, c.TopP, c.MaxTokens)
		if perr != nil {
			errs = append(errs, web.FieldError{Field: fmt.Sprintf("column %d model", i+1), Message: "no such model"})
		}
		vm.Errors = append(vm.Errors, errs...)
		next.Set("temperature_"+strconv.Itoa(len(specs)), c.Temperature)
		next.Set("top_p_"+strconv.Itoa(len(specs)), c.TopP)
		next.Set("max_tokens_"+strconv.Itoa(len(specs)), c.MaxTokens)
		specs = append(specs, store.ChatColumnSpec{ModelID: id, RAG: c.RAG})
	}
	if len(specs) == 0 {
		vm.Errors = append(vm.Errors, web.FieldError{Field: "columns", Message: "choose at least one model"})
	}
	if len(vm.Errors) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, web.ChatView(vm))
		return
	}
	chat, err := s.store.CreateChatColumns(r.Context(), userFrom(r).ID, vm.Question, specs)
	if errors.Is(err, store.ErrInvalid) {
		vm.Errors = []web.FieldError{{Message: formMessage(err)}}
		s.render(w, r, http.StatusUnprocessableEntity, web.ChatView(vm))
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/chat/%d?%s", chat.ID, next.Encode()), http.StatusSeeOther)
}

// userChat is the chat named in the path when it belongs to the user; anyone else's is not found.
func (s *Server) userChat(r *http.Request) (store.Chat, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return store.Chat{}, fmt.Errorf("chat %q: %w", chi.URLParam(r, "id"), store.ErrNotFound)
	}
	return s.store.UserChat(r.Context(), userFrom(r).ID, id)
}

// chatColumnParam is the column named in the path, checked against the chat's columns.
func chatColumnParam(r *http.Request, columns int) (int, error) {
	col, err := strconv.Atoi(chi.URLParam(r, "col"))
	if err != nil || col < 0 || col >= columns {
		return 0, fmt.Errorf("column %q: %w", chi.URLParam(r, "col"), store.ErrNotFound)
	}
	return col, nil
}

func (s *Server) handleChatShow(w http.ResponseWriter, r *http.Request) {
	chat, err := s.userChat(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	turns, err := s.store.ChatTurns(r.Context(), chat.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	chats, err := s.chatLinks(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm := web.ChatPage{Nav: s.nav(r, "Chat"), ChatID: chat.ID, Title: chat.Title, Chats: chats,
		Columns: chatColumns(turns, r.URL.Query()), Exchanges: s.chatExchanges(turns, true)}
	if chat.ShareToken != "" {
		vm.ShareURL = sharedChatPath(chat.ShareToken)
	}
	if vm.Banner, err = s.chatBanner(r, vm.Columns); err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ChatView(vm))
}

func sharedChatPath(token string) string { return "/share/chat/" + url.PathEscape(token) }

// chatColumns lists a chat's columns with their models. The sampling inputs come from query (the
// new-chat form's), else from the column's last answer as stored; a missing or bad one is the
// default. Sampling says how the last answer was sampled.
func chatColumns(turns []store.ChatTurn, query url.Values) []web.ChatColumn {
	var cols []web.ChatColumn
	for _, t := range turns {
		if t.Column < len(cols) {
			continue
		}
		k := strconv.Itoa(t.Column)
		c := web.ChatColumn{Index: t.Column, Model: t.ModelName, RAG: t.RAG}
		if c.Model == "" {
			c.Model = "(deleted model)"
		}
		last := lastSampling(turns, t.Column)
		c.Sampling = samplingText(last)
		c.Temperature, c.TopP, c.MaxTokens = query.Get("temperature_"+k), orDefault(query.Get("top_p_"+k), defaultChatColumnTopP), query.Get("max_tokens_"+k)
		if query.Get("temperature_"+k) == "" && last.Recorded() {
			c.Temperature, c.TopP, c.MaxTokens = formatFloat(last.Temperature), formatFloat(last.TopP), strconv.Itoa(last.MaxTokens)
		}
		if _, errs := checkChatSampling(t.Column, c.Temperature, c.TopP, c.MaxTokens); len(errs) > 0 {
			c.Temperature, c.TopP, c.MaxTokens = defaultChatColumnTemperature, defaultChatColumnTopP, defaultChatColumnMaxTokens
		}
		cols = append(cols, c)
	}
	return cols
}

// lastSampling is the settings of the column's last answer that has them stored.
func lastSampling(turns []store.ChatTurn, col int) store.ChatSampling {
	var last store.ChatSampling
	for _, t := range turns {
		if t.Column == col && t.Role == store.ChatRoleAssistant && t.Sampling.Recorded() {
			last = t.Sampling
		}
	}
	return last
}

// samplingText says how an answer was sampled: "t=0.7 · 512 tokens", with the top-p when it
// cuts; "" when not recorded.
func samplingText(p store.ChatSampling) string {
	if !p.Recorded() {
		return ""
	}
	s := "t=" + formatFloat(p.Temperature)
	if p.TopP > 0 && p.TopP < 1 {
		s += " · top-p " + formatFloat(p.TopP)
	}
	return s + " · " + strconv.Itoa(p.MaxTokens) + " tokens"
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// chatExchanges lines the columns' conversations up by question: the k-th question of every column
// is the same question. With live set, the last question's missing answers are pending.
func (s *Server) chatExchanges(turns []store.ChatTurn, live bool) []web.ChatExchange {
	var exchanges []web.ChatExchange
	asked := map[int]int{} // column → questions seen so far
	for _, t := range turns {
		if t.Role == store.ChatRoleUser {
			k := asked[t.Column]
			asked[t.Column]++
			if k == len(exchanges) {
				exchanges = append(exchanges, web.ChatExchange{Question: t.Content})
			}
			exchanges[k].Answers = append(exchanges[k].Answers, web.ChatAnswer{Column: t.Column})
			continue
		}
		k := asked[t.Column] - 1
		if k < 0 || k >= len(exchanges) {
			continue
		}
		a := chatAnswerOf(exchanges[k].Answers, t.Column)
		if a == nil {
			continue
		}
		a.Answer, a.FinishReason, a.Tokens = s.md.Component(t.Content), t.FinishReason, t.Tokens
		a.Sources = chatSources(t.Sources, t.Content)
		a.Check = s.chatAnswerCheck(t, live)
	}
	if live && len(exchanges) > 0 {
		last := exchanges[len(exchanges)-1].Answers
		for i := range last {
			last[i].Pending = last[i].Answer == nil
		}
	}
	return exchanges
}

func chatAnswerOf(answers []web.ChatAnswer, col int) *web.ChatAnswer {
	for i := range answers {
		if answers[i].Column == col {
			return &answers[i]
		}
	}
	return nil
}

// handleChatAsk puts a follow-up question to every column. An HTMX request gets the new exchange
// (its answers pending, which the page then streams); a plain form goes back to the chat.
func (s *Server) handleChatAsk(w http.ResponseWriter, r *http.Request) {
	chat, err := s.userChat(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.store.AskChat(r.Context(), chat.ID, r.FormValue("question")); err != nil {
		s.error(w, r, err)
		return
	}
	if !isHTMX(r) {
		http.Redirect(w, r, fmt.Sprintf("/chat/%d", chat.ID), http.StatusSeeOther)
		return
	}
	turns, err := s.store.ChatTurns(r.Context(), chat.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	exchanges := s.chatExchanges(turns, true)
	s.render(w, r, http.StatusOK, web.ChatExchangeView(exchanges[len(exchanges)-1]))
}

// handleChatRegenerate drops a column's last answer, so that the column's stream answers its last
// question again.
func (s *Server) handleChatRegenerate(w http.ResponseWriter, r *http.Request) {
	chat, err := s.userChat(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	col, err := chatColumnParam(r, store.MaxChatColumns)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.store.DropChatAnswer(r.Context(), chat.ID, col); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleChatStream answers a column's last question as server-sent events: "delta" events carry
// plain text as the model writes it, then "done" carries the answer rendered to sanitized HTML, its
// finish reason and tokens, its compiler badge (or the placeholder that fetches it, chatchecks.go)
// and its sampling settings ("failed" carries a message instead). The settings come from the
// query (temperature, top_p, max_tokens) and are stored with the answer. A column already answered gets its
// stored answer at once, so a reconnecting browser does not ask the model again. Closing the stream
// cancels the request, which stops the model; the text written until then is stored as a stopped
// answer.
func (s *Server) handleChatStream(w http.ResponseWriter, r *http.Request) {
	chat, err := s.userChat(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	q := r.URL.Query()
	sampling, errs := checkChatSampling(0, orDefault(q.Get("temperature"), defaultChatColumnTemperature),
		orDefault(q.Get("top_p"), defaultChatColumnTopP), orDefault(q.Get("max_tokens"), defaultChatColumnMaxTokens))
	if len(errs) > 0 {
		http.Error(w, errs[0].Message, http.StatusBadRequest)
		return
	}
	turns, err := s.store.ChatTurns(r.Context(), chat.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	col, err := chatColumnParam(r, len(chatColumns(turns, nil)))
	if err != nil {
		s.error(w, r, err)
		return
	}
	history := columnTurns(turns, col)
	last := history[len(history)-1]
	if last.Role == store.ChatRoleAssistant {
		newEventStream(w).doneWith(s.chatDoneOf(r.Context(), last))
		return
	}
	done, ok := s.startGeneration(w, r)
	if !ok {
		return
	}
	done(s.answerColumn(r, newEventStream(w), chat.ID, col, history, sampling))
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func columnTurns(turns []store.ChatTurn, col int) []store.ChatTurn {
	var out []store.ChatTurn
	for _, t := range turns {
		if t.Column == col {
			out = append(out, t)
		}
	}
	return out
}

// answerColumn runs the column's model on the column's conversation and stores its answer. This is
// where retrieval will join a column: its sources go into the messages and the done event.
func (s *Server) answerColumn(r *http.Request, ev *eventStream, chatID int64, col int, history []store.ChatTurn, p chatSampling) int {
	ctx := r.Context()
	question := history[len(history)-1]
	m, gen, err := s.chatGenerator(ctx, question)
	if err != nil {
		ev.failed(s.chatFailure(r, m.Name, err))
		return 0
	}
	req := inference.Request{Model: m.ServedName, Messages: chatMessages(history), N: 1,
		Params: inference.Params{Temperature: p.temperature, MaxTokens: p.maxTokens}}
	if p.topP < 1 {
		req.Params.TopP = p.topP // 1 (every token) is the servers' default
	}
	sources := ""
	if question.RAG {
		if sources, err = s.augmentChat(ctx, &req, question.Content); err != nil {
			ev.failed(s.chatFailure(r, m.Name, err))
			return 0
		}
		ev.send("sources", sources)
	}
	var mu sync.Mutex
	var written strings.Builder
	res, err := gen.Chat(ctx, req, func(d inference.Delta) {
		text := strings.ReplaceAll(d.Text, "\r", "")
		mu.Lock()
		written.WriteString(text)
		mu.Unlock()
		ev.delta(text)
	})
	if ctx.Err() != nil {
		mu.Lock()
		partial := written.String()
		mu.Unlock()
		s.storeChatAnswer(context.WithoutCancel(ctx), chatID, col, question.Seq, store.ChatAnswer{Content: partial, FinishReason: finishStopped,
			Sources: sources, Sampling: p.stored()})
		return estimateTokens(partial)
	}
	if err == nil && len(res.Choices) == 0 {
		err = errors.New("the model gave no answer")
	}
	if err != nil {
		ev.failed(s.chatFailure(r, m.Name, err))
		return 0
	}
	answer := store.ChatAnswer{Content: strings.ReplaceAll(res.Choices[0].Text, "\r", ""),
		FinishReason: finishReason(res.Choices[0]), Tokens: res.Usage.CompletionTokens, Sources: sources, Sampling: p.stored()}
	turn, ok := s.storeChatAnswer(ctx, chatID, col, question.Seq, answer)
	if !ok {
		ev.failed("the answer could not be stored: the column has a newer question")
		return answer.Tokens
	}
	ev.doneWith(s.chatDoneOf(ctx, turn))
	return answer.Tokens
}

// chatGenerator reaches the model that a column's question was put to.
func (s *Server) chatGenerator(ctx context.Context, question store.ChatTurn) (store.Model, inference.Generator, error) {
	if question.ModelID == 0 {
		return store.Model{Name: "(deleted model)"}, nil, &inference.RequestError{Msg: "the column's model was deleted"}
	}
	m, err := s.store.Model(ctx, question.ModelID)
	if err != nil {
		return store.Model{Name: question.ModelName}, nil, err
	}
	if s.cfg.GeneratorFor == nil {
		return m, nil, &inference.RequestError{Msg: "this server runs no models"}
	}
	gen, err := s.cfg.GeneratorFor(m)
	return m, gen, err
}

// chatFailure is what the reader is told about a failed answer: a request the model cannot take
// says why; anything else is logged and named only by its model.
func (s *Server) chatFailure(r *http.Request, model string, err error) string {
	var reqErr *inference.RequestError
	if errors.As(err, &reqErr) {
		return fmt.Sprintf("model %s: %s", model, reqErr.Msg)
	}
	s.log.Warn("chat answer failed", slog.String("path", r.URL.Path), slog.String("model", model), slog.Any("error", err))
	return fmt.Sprintf("model %s failed to answer; the server log has the details", model)
}

// storeChatAnswer stores an answer and returns its turn, reporting whether it was stored; a newer
// question in the column (asked while this answer was written) keeps the answer out.
func (s *Server) storeChatAnswer(ctx context.Context, chatID int64, col int, userSeq int64, a store.ChatAnswer) (store.ChatTurn, bool) {
	turn, err := s.store.AnswerChat(ctx, chatID, col, userSeq, a)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.Error("store chat answer", slog.Int64("chat_id", chatID), slog.Int("column", col), slog.Any("error", err))
	}
	return turn, err == nil
}

// chatMessages is a column's conversation as the model reads it.
func chatMessages(history []store.ChatTurn) []inference.Message {
	msgs := make([]inference.Message, len(history))
	for i, t := range history {
		msgs[i] = inference.Message{Role: t.Role, Content: t.Content}
	}
	return msgs
}

// eventStream writes server-sent events; its methods may be called from any goroutine. A failed
// write means the reader is gone: later events are dropped.
type eventStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController

	mu     sync.Mutex
	broken bool
}

// newEventStream sends the headers at once, so the browser's EventSource opens before the model
// writes anything.
func newEventStream(w http.ResponseWriter) *eventStream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ev := &eventStream{w: w, rc: http.NewResponseController(w)}
	ev.send("", ": streaming\n\n")
	return ev
}

// delta sends a piece of plain text; the browser appends it as text, never as HTML.
func (ev *eventStream) delta(text string) {
	if text != "" {
		ev.send("delta", text)
	}
}

// chatDone is the last event of an answer. Check is the HTML of the answer's compiler badge (or of
// the placeholder that fetches it) and Sampling how the answer was sampled; a chat's answers only.
type chatDone struct {
	HTML         string `json:"html"`
	FinishReason string `json:"finish_reason"`
	Tokens       int    `json:"tokens"`
	Check        string `json:"check,omitempty"`
	Sampling     string `json:"sampling,omitempty"`
}

func (ev *eventStream) done(html, finish string, tokens int) {
	ev.doneWith(chatDone{HTML: html, FinishReason: finish, Tokens: tokens})
}

func (ev *eventStream) doneWith(d chatDone) {
	b, _ := json.Marshal(d)
	ev.send("done", string(b))
}

func (ev *eventStream) failed(msg string) { ev.send("failed", msg) }

// send writes one event; each line of data gets its own data field, as the format requires. An
// empty event name writes data as it is (a comment).
func (ev *eventStream) send(event, data string) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.broken {
		return
	}
	var b strings.Builder
	if event == "" {
		b.WriteString(data)
	} else {
		b.WriteString("event: " + event + "\n")
		for line := range strings.SplitSeq(data, "\n") {
			b.WriteString("data: " + line + "\n")
		}
		b.WriteString("\n")
	}
	if _, err := io.WriteString(ev.w, b.String()); err != nil || ev.rc.Flush() != nil {
		ev.broken = true
	}
}

// chatSourceJSON is one source given to a retrieval column's model, as stored and as sent to the page.
type chatSourceJSON struct {
	N     int    `json:"n"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// augmentChat retrieves documentation for the column's question and puts the excerpts in front of
// the last user message; it returns the sources as JSON.
func (s *Server) augmentChat(ctx context.Context, req *inference.Request, question string) (string, error) {
	hits, _, err := s.retrieve(ctx, rag.Query{Text: question, K: ragContextHits, Mode: rag.ModeHybrid})
	if err != nil {
		return "", fmt.Errorf("retrieval: %w", err)
	}
	last := len(req.Messages) - 1
	augmented, used := rag.Augment(req.Messages[last].Content, hits, rag.DefaultBudget)
	req.Messages[last].Content = augmented
	out := make([]chatSourceJSON, len(used))
	for i, h := range used {
		out[i] = chatSourceJSON{N: i + 1, Title: h.Title, URL: h.URL}
	}
	data, err := json.Marshal(out)
	return string(data), err
}

// chatSources reads a stored answer's sources and marks the ones the answer cites as [n].
func chatSources(stored, answer string) []web.ChatSource {
	var list []chatSourceJSON
	if stored == "" || json.Unmarshal([]byte(stored), &list) != nil {
		return nil
	}
	out := make([]web.ChatSource, len(list))
	for i, src := range list {
		out[i] = web.ChatSource{N: src.N, Title: src.Title, URL: src.URL, Cited: strings.Contains(answer, fmt.Sprintf("[%d]", src.N))}
	}
	return out
}

package chat

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// golden is one line of testdata/goldens.jsonl, written by
// inference/tokenizer/testdata/make_goldens.py with transformers' apply_chat_template.
type golden struct {
	Template string            `json:"template"`
	BOS      string            `json:"bos_token"`
	EOS      string            `json:"eos_token"`
	Vars     map[string]string `json:"vars"`
	Messages []Message         `json:"messages"`
	Gen      bool              `json:"add_generation_prompt"`
	Text     *string           `json:"text"`
	Error    string            `json:"error"`
}

func readGoldens(t *testing.T) []golden {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "goldens.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var g golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, g)
	}
	if err := sc.Err(); err != nil || len(rows) == 0 {
		t.Fatalf("goldens: %v, %d rows", err, len(rows))
	}
	return rows
}

func detectFile(t *testing.T, name string) *Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Detect(string(src))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tmpl
}

func TestRenderMatchesTransformers(t *testing.T) {
	templates := map[string]*Template{}
	for _, g := range readGoldens(t) {
		tmpl, ok := templates[g.Template]
		if !ok {
			tmpl = detectFile(t, g.Template)
			templates[g.Template] = tmpl
		}
		if d, ok := g.Vars["date_string"]; ok {
			tmpl.Date = d
		}
		got, err := tmpl.Render(g.Messages, g.Gen)
		switch {
		case g.Text == nil && err == nil:
			t.Errorf("%s %v: rendered %q, want the error %q", g.Template, g.Messages, got, g.Error)
		case g.Text == nil && !strings.Contains(err.Error(), strings.TrimSuffix(g.Error, "!")):
			t.Errorf("%s %v: error %q, want %q", g.Template, g.Messages, err, g.Error)
		case g.Text != nil && err != nil:
			t.Errorf("%s %v: %v", g.Template, g.Messages, err)
		case g.Text != nil && got != *g.Text:
			t.Errorf("%s %v gen=%v\n got  %q\n want %q", g.Template, g.Messages, g.Gen, got, *g.Text)
		}
	}
	if len(templates) < 10 {
		t.Errorf("goldens cover %d templates, want 10", len(templates))
	}
}

func TestDetectReadsTheDetails(t *testing.T) {
	cases := []struct {
		file, family, variant, system, date string
	}{
		{"smollm2.jinja", ChatML, VariantChatML, "You are a helpful AI assistant named SmolLM, trained by Hugging Face", ""},
		{"qwen2.jinja", ChatML, VariantChatML, "You are a helpful assistant.", ""},
		{"qwen2_5.jinja", ChatML, VariantQwen25, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", ""},
		{"chatml.jinja", ChatML, VariantChatML, "", ""},
		{"llama3.jinja", Llama3, VariantLlama3, "", ""},
		{"llama3_1.jinja", Llama3, VariantLlama31, "", "26 Jul 2024"},
		{"llama3_2.jinja", Llama3, VariantLlama31, "", ""},
		{"llama2.jinja", Llama2, VariantLlama2, "", ""},
		{"mistral.jinja", Llama2, VariantMistral, "", ""},
		{"mistral_v0_1.jinja", Llama2, VariantMistral, "", ""},
	}
	for _, c := range cases {
		tmpl := detectFile(t, c.file)
		if tmpl.Family != c.family || tmpl.Variant != c.variant || tmpl.DefaultSystem != c.system || tmpl.Date != c.date {
			t.Errorf("%s: got %+v", c.file, *tmpl)
		}
	}
}

func TestDetectUnknown(t *testing.T) {
	_, err := Detect("{% for message in messages %}<start_of_turn>{{ message['content'] }}{% endfor %}")
	if err == nil {
		t.Fatal("a Gemma template should not be recognized")
	}
	for _, family := range []string{"ChatML", "Llama 3", "Llama 2/Mistral"} {
		if !strings.Contains(err.Error(), family) {
			t.Errorf("error %q does not list %s", err, family)
		}
	}
}

func TestByNameMatchesDetect(t *testing.T) {
	for name, file := range map[string]string{"chatml": "chatml.jinja", "llama3": "llama3.jinja",
		"llama3.1": "llama3_1.jinja", "llama2": "llama2.jinja", "mistral": "mistral.jinja"} {
		byName, err := ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if detected := detectFile(t, file); *byName != *detected {
			t.Errorf("ByName(%q) = %+v, Detect(%s) = %+v", name, *byName, file, *detected)
		}
	}
	if _, err := ByName("vicuna"); err == nil || !strings.Contains(err.Error(), "chatml") {
		t.Errorf("ByName(vicuna) error = %v", err)
	}
}

func TestStops(t *testing.T) {
	want := map[string]string{"chatml": "<|im_end|>", "llama3": "<|eot_id|>", "llama2": "</s>", "mistral": "</s>"}
	for name, stop := range want {
		tmpl, _ := ByName(name)
		if got := tmpl.Stops(); len(got) != 1 || got[0] != stop {
			t.Errorf("%s: Stops = %q", name, got)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	tmpl, _ := ByName("chatml")
	if _, err := tmpl.Render(nil, true); err == nil {
		t.Error("an empty conversation should be an error")
	}
	bad := &Template{Family: "vicuna"}
	if _, err := bad.Render([]Message{{"user", "hi"}}, true); err == nil {
		t.Error("an unknown family should be an error")
	}
}

func TestLlama32UsesTodayWithoutDate(t *testing.T) {
	tmpl := detectFile(t, "llama3_2.jinja")
	got, err := tmpl.Render([]Message{{"user", "hi"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`Today Date: \d\d [A-Z][a-z]{2} \d{4}\n\n<\|eot_id\|>`).MatchString(got) {
		t.Errorf("no rendering date in %q", got)
	}
}

func TestUnquoteLiteral(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{`You are helpful.`, "You are helpful.", true},
		{`You\'re \"kind\"\nand\\fair`, "You're \"kind\"\nand\\fair", true},
		{`' + messages[0]['content'] + '`, "", false},
		{`{{ system }}`, "", false},
		{`trailing\`, "", false},
	}
	for _, c := range cases {
		got, ok := unquoteLiteral(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("unquoteLiteral(%q) = %q, %v", c.in, got, ok)
		}
	}
}

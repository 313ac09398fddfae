// Package chat turns a conversation into the prompt text a chat model was trained
// on. Instead of evaluating a model's Jinja chat template, it recognizes which
// family the template belongs to (ChatML, Llama 3, Llama 2/Mistral) and the details
// that vary within the family, and renders the conversation the way the template
// does, byte for byte, for system, user, assistant and tool messages.
package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string // "system", "user", "assistant", or "tool"/"ipython" for tool results
	Content string
}

// Template families.
const (
	ChatML = "chatml" // <|im_start|>role\n...<|im_end|>
	Llama3 = "llama3" // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
	Llama2 = "llama2" // [INST] ... [/INST]
)

// Variants within the families.
const (
	VariantChatML  = "chatml"   // every message as a ChatML turn (SmolLM2, Qwen2, plain ChatML)
	VariantQwen25  = "qwen2.5"  // ChatML; tool results grouped into a user turn of <tool_response> blocks
	VariantLlama3  = "llama3"   // Llama 3 / 3.0
	VariantLlama31 = "llama3.1" // Llama 3.1-3.3: a system header with the knowledge and today's dates
	VariantLlama2  = "llama2"   // Llama 2 chat: <<SYS>> in the first user turn, BOS before every [INST]
	VariantMistral = "mistral"  // Mistral/Mixtral Instruct: one BOS, no system messages
)

// Template renders conversations for one family of chat templates. Its fields may
// be adjusted after Detect or ByName, e.g. to the BOS text of a particular model.
type Template struct {
	Family  string
	Variant string
	// DefaultSystem is the system prompt ChatML templates insert when the
	// conversation does not start with a system message ("" for none).
	DefaultSystem string
	// BOS and EOS are the texts the template writes for bos_token and eos_token.
	BOS, EOS string
	// Date is the "Today Date" of Llama 3.1 templates, like "26 Jul 2024". Empty
	// means the date of rendering (templates that call strftime_now).
	Date string
	// AssistantSuffix follows EOS after a Mistral assistant turn (" " in v0.1).
	AssistantSuffix string
}

// Detect recognizes the family of a model's Jinja chat_template string.
func Detect(jinja string) (*Template, error) {
	switch {
	case strings.Contains(jinja, "<|im_start|>"):
		return detectChatML(jinja), nil
	case strings.Contains(jinja, "<|start_header_id|>"):
		return detectLlama3(jinja), nil
	case strings.Contains(jinja, "[INST]"):
		return detectLlama2(jinja), nil
	}
	return nil, errors.New("chat: unsupported chat template: supported families are ChatML (<|im_start|>), Llama 3 (<|start_header_id|>) and Llama 2/Mistral ([INST])")
}

func detectChatML(src string) *Template {
	t := &Template{Family: ChatML, Variant: VariantChatML, DefaultSystem: defaultSystem(src)}
	if strings.Contains(src, "<tool_response>") {
		t.Variant = VariantQwen25
	}
	return t
}

func detectLlama3(src string) *Template {
	t := &Template{Family: Llama3, Variant: VariantLlama3, BOS: "<|begin_of_text|>"}
	if strings.Contains(src, "Cutting Knowledge Date") {
		t.Variant = VariantLlama31
		if !strings.Contains(src, "strftime_now") {
			t.Date = literalDate(src)
		}
	}
	return t
}

func detectLlama2(src string) *Template {
	t := &Template{Family: Llama2, Variant: VariantLlama2, BOS: "<s>", EOS: "</s>"}
	if !strings.Contains(src, "<<SYS>>") {
		t.Variant = VariantMistral
		if strings.Contains(src, "eos_token + ' '") {
			t.AssistantSuffix = " "
		}
	}
	return t
}

// ByName returns a built-in template: "chatml" (no default system prompt),
// "llama3", "llama3.1", "llama2" or "mistral".
func ByName(name string) (*Template, error) {
	switch name {
	case "chatml":
		return &Template{Family: ChatML, Variant: VariantChatML}, nil
	case "llama3":
		return &Template{Family: Llama3, Variant: VariantLlama3, BOS: "<|begin_of_text|>"}, nil
	case "llama3.1":
		return &Template{Family: Llama3, Variant: VariantLlama31, BOS: "<|begin_of_text|>", Date: defaultDate}, nil
	case "llama2":
		return &Template{Family: Llama2, Variant: VariantLlama2, BOS: "<s>", EOS: "</s>"}, nil
	case "mistral":
		return &Template{Family: Llama2, Variant: VariantMistral, BOS: "<s>", EOS: "</s>"}, nil
	}
	return nil, fmt.Errorf("chat: unknown template %q (known: chatml, llama3, llama3.1, llama2, mistral)", name)
}

// Stops returns the texts that end an assistant turn.
func (t *Template) Stops() []string {
	switch t.Family {
	case ChatML:
		return []string{"<|im_end|>"}
	case Llama3:
		return []string{"<|eot_id|>"}
	}
	if t.EOS == "" {
		return []string{"</s>"}
	}
	return []string{t.EOS}
}

// Render returns the prompt text for msgs. With addGenerationPrompt it ends with the
// opening of an assistant turn (the Llama 2 family has none: its prompts end with
// [/INST]). Conversations the model's template rejects (Llama 2 and Mistral require
// alternating user/assistant turns) are errors.
func (t *Template) Render(msgs []Message, addGenerationPrompt bool) (string, error) {
	if len(msgs) == 0 {
		return "", errors.New("chat: no messages to render")
	}
	var b strings.Builder
	var err error
	switch t.Family {
	case ChatML:
		t.renderChatML(&b, msgs, addGenerationPrompt)
	case Llama3:
		t.renderLlama3(&b, msgs, addGenerationPrompt)
	case Llama2:
		err = t.renderLlama2(&b, msgs)
	default:
		err = fmt.Errorf("chat: unknown template family %q", t.Family)
	}
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// defaultDate is what Llama 3.1 templates use when no date is given.
const defaultDate = "26 Jul 2024"

// today formats the rendering date the way strftime("%d %b %Y") does.
func (t *Template) today() string {
	if t.Date != "" {
		return t.Date
	}
	return time.Now().Format("02 Jan 2006")
}

// pyStrip trims what Python's str.strip (and Jinja's trim) trim: Unicode whitespace
// plus the separators U+001C to U+001F.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) })
}

package docs

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	mermaidBlockRE = regexp.MustCompile("(?s)```mermaid\n(.*?)```")
	transitionRE   = regexp.MustCompile(`^\s*(\w+) --> (\w+): (.+?)\s*$`)
)

// transitions lists the labelled "A --> B: label" lines of mermaid text.
func transitions(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if m := transitionRE.FindStringSubmatch(line); m != nil {
			out = append(out, m[1]+" --> "+m[2]+": "+m[3])
		}
	}
	sort.Strings(out)
	return out
}

// TestStateMachinePage: the state machine page draws the machine in two
// halves (one diagram was too wide to read); together they must hold exactly
// the transitions of the diagram ch02's TestStateDiagram draws from the
// model's table, each once.
func TestStateMachinePage(t *testing.T) {
	model, err := os.ReadFile("../ch02-tcp-basics/testdata/state-diagram.mmd")
	require.NoError(t, err)
	page, err := os.ReadFile("src/state-machine.md")
	require.NoError(t, err)

	var drawn []string
	blocks := mermaidBlockRE.FindAllStringSubmatch(string(page), -1)
	require.NotEmpty(t, blocks, "state-machine.md has no mermaid diagram")
	for _, b := range blocks {
		drawn = append(drawn, transitions(b[1])...)
	}
	sort.Strings(drawn)
	want := transitions(string(model))
	require.NotEmpty(t, want)
	assert.Equal(t, want, drawn, "state-machine.md's diagrams differ from the model's transitions")
}

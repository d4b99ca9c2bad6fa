package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tcp-in-go/course/tools/stub"
)

// GitHub Classroom's autograding reads the tests of an assignment from
// .github/classroom/autograding.json in the template repository (the
// starter copy): each test runs a setup and a run command in the student's
// repository, within a timeout in minutes, and earns its points when the
// run command exits 0. Here each exercise is a test, running this command
// with -exercise, worth the points of its exercise.json.
const classroomFile = ".github/classroom/autograding.json"

// classroomTimeout is each test's bound, in minutes: a build of the
// chapter's tests and their run, on a runner that starts cold.
const classroomTimeout = 10

type classroomTests struct {
	Tests []classroomTest `json:"tests"`
}

type classroomTest struct {
	Name       string `json:"name"`
	Setup      string `json:"setup"`
	Run        string `json:"run"`
	Input      string `json:"input"`
	Output     string `json:"output"`
	Comparison string `json:"comparison"`
	Timeout    int    `json:"timeout"`
	Points     int    `json:"points"`
}

// Classroom returns autograding.json for the course in dir, from the same
// exercise list the scoreboard grades.
func Classroom(dir string) ([]byte, error) {
	exs, _, err := stub.Catalog(dir)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(exs, func(i, j int) bool { return exs[i].Chapter() < exs[j].Chapter() })
	setup, err := pytestSetup(dir)
	if err != nil {
		return nil, err
	}
	doc := classroomTests{Tests: []classroomTest{}}
	for _, e := range exs {
		t := classroomTest{
			Name:       e.Chapter() + " " + titled(e.Name, e.Title),
			Run:        "go run ./tools/grade -exercise " + e.Name,
			Comparison: "included",
			Timeout:    classroomTimeout,
			Points:     e.Points,
		}
		if e.Lang == "python" {
			t.Setup = setup
			t.Run = "go run ./tools/grade -python on -exercise " + e.Name
		}
		doc.Tests = append(doc.Tests, t)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// titled is an exercise's name with its title, "exercise-pool: Reuse
// buffers from a pool", or the name alone while it has no title.
func titled(name, title string) string {
	if title == "" || strings.HasPrefix(name, title) {
		return name
	}
	return name + ": " + title
}

// WriteClassroom writes autograding.json into the course in dir.
func WriteClassroom(dir string) error {
	data, err := Classroom(dir)
	if err != nil {
		return err
	}
	p := filepath.Join(dir, filepath.FromSlash(classroomFile))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// pytestSetup is the setup command of a Python exercise's test: pytest and
// its timeout plugin at the versions python/requirements-dev.txt pins. A
// runner whose system Python refuses pip (PEP 668) gets the same install
// with --break-system-packages: it is a throwaway machine.
func pytestSetup(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "python", "requirements-dev.txt"))
	if err != nil {
		return "", err
	}
	var pins []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if name, _, ok := strings.Cut(line, "=="); ok && (name == "pytest" || name == "pytest-timeout") {
			pins = append(pins, line)
		}
	}
	if len(pins) != 2 {
		return "", fmt.Errorf("python/requirements-dev.txt pins %v, want pytest and pytest-timeout", pins)
	}
	install := "python3 -m pip install --quiet --user " + strings.Join(pins, " ")
	return install + " || " + install + " --break-system-packages", nil
}

package stub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/tcp-in-go/course/internal/exercise"
)

// The catalog: what the grader knows of an exercise besides its region.
// Beside each exercise, in its chapter, the directory
//
//	chNN-name/testdata/exercises/exercise-NAME/
//
// holds exercise.json ({"title": "Frame with a varint length", "points": 2})
// and at least two wrong solutions, wrong-SLUG.go (wrong-SLUG.py for a
// Python exercise): the text that replaces the region, its first line a
// comment saying what is wrong ("// Wrong: reads the header but not the
// payload"). The exercise is taught on the page of docs/src that holds its
// anchor, <a id="exercise-NAME"></a>.

// Info is an exercise with its catalog entry.
type Info struct {
	Exercise
	Title    string   // exercise.json's title; the name while there is none
	Points   int      // exercise.json's points; 1 while there are none
	Dir      string   // its directory, relative to the root (it may not exist yet)
	Pointer  string   // where it is taught: docs/src/PAGE.md#exercise-NAME, or ""
	Wrong    []Wrong  // its wrong solutions, by slug
	Missing  []string // what is not written yet: its anchor, directory, exercise.json, wrong solutions
	Problems []string // what is written but wrong: an invalid exercise.json, a wrong solution without its comment...
}

// Wrong is one wrong solution of an exercise.
type Wrong struct {
	Slug        string // "off-by-one", from wrong-off-by-one.go
	File        string // relative to the root
	Description string // its first line, without "// Wrong: "
	Text        string // the whole file: what replaces the region
}

// Meta is exercise.json.
type Meta struct {
	Title  string `json:"title"`
	Points int    `json:"points"`
}

// MinWrong is how many wrong solutions each exercise needs at least.
const MinWrong = 2

var wrongFirstRE = regexp.MustCompile(`^\s*(//|#)\s*Wrong:\s*(\S.*)$`)

// Catalog lists the exercises of the course at root (as Find) with their
// catalog entries, and the problems that belong to no exercise: a
// directory under a chapter's testdata/exercises that names no exercise of
// that chapter. Missing or invalid entries are Problems of their exercise,
// not errors: a grader still grades it, with its name for a title and one
// point.
func Catalog(root string) ([]Info, []string, error) {
	exs, err := Find(root)
	if err != nil {
		return nil, nil, err
	}
	anchors, err := exercise.Anchors(root)
	if err != nil {
		return nil, nil, err
	}
	pages, err := anchorPages(root)
	if err != nil {
		return nil, nil, err
	}
	chapters, err := filepath.Glob(filepath.Join(root, "ch[0-9][0-9]-*"))
	if err != nil {
		return nil, nil, err
	}
	chapterDir := map[string][]string{} // "ch04" -> ["ch04-echo"]
	for _, c := range chapters {
		if info, err := os.Stat(c); err == nil && info.IsDir() {
			base := filepath.Base(c)
			chapterDir[base[:4]] = append(chapterDir[base[:4]], base)
		}
	}
	var infos []Info
	known := map[string]bool{} // "ch04-echo/testdata/exercises/exercise-pool"
	for _, e := range exs {
		in := Info{Exercise: e, Title: e.Name, Points: 1}
		if p := anchors[e.Name]; p != "" {
			in.Pointer = p + "#" + e.Name
		} else {
			in.Missing = append(in.Missing, fmt.Sprintf(`no page of docs/src holds <a id="%s"></a>, where the exercise is taught`, e.Name))
		}
		if ps := pages[e.Name]; len(ps) > 1 {
			in.Problems = append(in.Problems, fmt.Sprintf("its anchor is on %d pages: %s", len(ps), strings.Join(ps, ", ")))
		}
		switch dirs := chapterDir[e.Chapter()]; len(dirs) {
		case 1:
			in.Dir = path.Join(dirs[0], "testdata", "exercises", e.Name)
			known[in.Dir] = true
			in.load(root)
		default:
			in.Problems = append(in.Problems, fmt.Sprintf("chapter %s has %d directories (%v), not one", e.Chapter(), len(dirs), dirs))
		}
		infos = append(infos, in)
	}
	var orphans []string
	for _, dirs := range chapterDir {
		for _, d := range dirs {
			entries, err := os.ReadDir(filepath.Join(root, d, "testdata", "exercises"))
			if err != nil {
				continue
			}
			for _, ent := range entries {
				rel := path.Join(d, "testdata", "exercises", ent.Name())
				if !known[rel] {
					orphans = append(orphans, fmt.Sprintf("%s names no exercise of %s (no ANCHOR: %s region)", rel, d, ent.Name()))
				}
			}
		}
	}
	slices.Sort(orphans)
	return infos, orphans, nil
}

// load reads the exercise's directory into in, with what is missing from it
// or wrong in it.
func (in *Info) load(root string) {
	dir := filepath.Join(root, filepath.FromSlash(in.Dir))
	entries, err := os.ReadDir(dir)
	if err != nil {
		in.Missing = append(in.Missing, fmt.Sprintf("no directory %s (exercise.json and at least %d wrong solutions)", in.Dir, MinWrong))
		return
	}
	var problems []string
	ext, comment := ".go", "//"
	if in.Lang == "python" {
		ext, comment = ".py", "#"
	}
	sawMeta := false
	for _, ent := range entries {
		name := ent.Name()
		rel := path.Join(in.Dir, name)
		switch {
		case name == "exercise.json":
			sawMeta = true
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			var m Meta
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			switch err := dec.Decode(&m); {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s: %v (want {\"title\": \"...\", \"points\": N})", rel, err))
			case strings.TrimSpace(m.Title) == "":
				problems = append(problems, rel+": no title")
			case m.Points < 1:
				problems = append(problems, fmt.Sprintf("%s: points %d, want 1 or more", rel, m.Points))
			default:
				in.Title, in.Points = strings.TrimSpace(m.Title), m.Points
			}
		case strings.HasPrefix(name, "wrong-") && strings.HasSuffix(name, ext):
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			first, _, _ := strings.Cut(string(data), "\n")
			m := wrongFirstRE.FindStringSubmatch(first)
			if m == nil || m[1] != comment {
				problems = append(problems, fmt.Sprintf("%s: the first line must say what is wrong: %q", rel, comment+" Wrong: ..."))
				continue
			}
			w := Wrong{Slug: strings.TrimSuffix(strings.TrimPrefix(name, "wrong-"), ext), File: rel, Description: m[2], Text: string(data)}
			if err := in.fits(root, w); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", rel, err))
				continue
			}
			in.Wrong = append(in.Wrong, w)
		default:
			problems = append(problems, fmt.Sprintf("%s: not a file an exercise directory holds (exercise.json, wrong-SLUG%s)", rel, ext))
		}
	}
	if !sawMeta {
		in.Missing = append(in.Missing, fmt.Sprintf(`no %s/exercise.json ({"title": "...", "points": N})`, in.Dir))
	}
	if len(in.Wrong) < MinWrong {
		in.Missing = append(in.Missing, fmt.Sprintf("%d wrong solutions in %s (wrong-SLUG%s), at least %d needed", len(in.Wrong), in.Dir, ext, MinWrong))
	}
	in.Problems = append(in.Problems, problems...)
}

// fits checks that a Go wrong solution, put in the region, still parses
// (whether it compiles is the wrong-solution runner's business).
func (in *Info) fits(root string, w Wrong) error {
	if in.Lang != "go" {
		return nil
	}
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(in.File)))
	if err != nil {
		return err
	}
	out, err := Replace(in.File, src, in.Name, w.Text)
	if err == nil {
		_, err = parser.ParseFile(token.NewFileSet(), in.File, out, parser.SkipObjectResolution)
	}
	if err != nil {
		return fmt.Errorf("does not parse in place of the region in %s: %v", in.File, err)
	}
	return nil
}

// anchorPages lists, for each exercise anchor, every page (Solutions pages
// aside) that holds it, so that the catalog can refuse an anchor on two.
func anchorPages(root string) (map[string][]string, error) {
	out := map[string][]string{}
	re := regexp.MustCompile(`<a id="(exercise-[\w-]+)"></a>`)
	src := filepath.Join(root, "docs", "src")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "solutions" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".md") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, m := range re.FindAllSubmatch(data, -1) {
			if ps := out[string(m[1])]; !slices.Contains(ps, filepath.ToSlash(rel)) {
				out[string(m[1])] = append(ps, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if os.IsNotExist(err) {
		return out, nil
	}
	return out, err
}

// Replace puts text in place of the exercise region name of a course file
// (rel, slash-separated, relative to the root), keeping the anchors: the
// wrong-solution runner applies a wrong solution with it. The text is
// re-indented to the anchor line's indentation (its own common indentation
// removed first), so it may be written flush left. In Go, imports only the
// solution used are dropped, and the file is formatted.
func Replace(rel string, src []byte, name, text string) ([]byte, error) {
	comment := "//"
	if strings.HasSuffix(rel, ".py") {
		comment = "#"
	}
	var out bytes.Buffer
	found, inside := false, false
	for _, line := range strings.SplitAfter(string(src), "\n") {
		if inside {
			if m := endRE.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil && m[2] == name {
				out.WriteString(line)
				inside = false
			}
			continue
		}
		out.WriteString(line)
		if m := beginRE.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil && m[2] == comment && m[3] == name && !found {
			found, inside = true, true
			for _, l := range dedent(strings.Split(strings.TrimRight(text, "\n"), "\n")) {
				if strings.TrimSpace(l) == "" {
					out.WriteString("\n")
				} else {
					out.WriteString(m[1] + l + "\n")
				}
			}
		}
	}
	switch {
	case !found:
		return nil, fmt.Errorf("%s has no region %s", rel, name)
	case inside:
		return nil, fmt.Errorf("%s: ANCHOR: %s has no ANCHOR_END", rel, name)
	case comment == "#":
		return out.Bytes(), nil
	}
	return fixImportsWith(out.Bytes(), token.NewFileSet(), false)
}

// dedent removes the indentation every non-blank line shares.
func dedent(lines []string) []string {
	common, first := "", true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ind := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			common, first = ind, false
			continue
		}
		for !strings.HasPrefix(ind, common) {
			common = common[:len(common)-1]
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimPrefix(l, common)
	}
	return out
}

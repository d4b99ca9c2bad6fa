// Package stub turns the course's exercise solutions into the student's
// starting point. A solution is a region of a chapter's code between
// "ANCHOR: exercise-NAME" and "ANCHOR_END: exercise-NAME" (// in Go, # in
// Python); its stub keeps the anchors and replaces what lies between:
//
//   - Go: exercise.TODO("exercise-NAME"), then, where the region ends a
//     function with results, a return of zero values. Nothing panics, so
//     other tests of the package still run (see package exercise).
//   - Python: a comment, "# TODO(exercise-NAME): not done yet", after
//     "pass" or before a neutral return; the tests that grade the exercise
//     fail while it is there (python/tests/conftest.py), nothing else does.
//
// tools/starter writes the starter copy with it, and scripts/mdbook-course
// shows the same stubs on the chapter pages.
package stub

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tcp-in-go/course/internal/exercise"
)

// ImportPath is the package a Go stub calls.
const ImportPath = "github.com/tcp-in-go/course/internal/exercise"

var (
	beginRE = regexp.MustCompile(`^(\s*)(//|#)\s*ANCHOR:\s*(exercise-[\w-]+)\s*$`)
	endRE   = regexp.MustCompile(`^\s*(//|#)\s*ANCHOR_END:\s*(exercise-[\w-]+)\s*$`)
)

// Exercise is one exercise region of the course's code.
type Exercise struct {
	Name string // exercise-NAME
	File string // slash-separated, relative to the repository root
	Lang string // "go" or "python"
	Page string // the chapter's book page: docs/src/ch04-echo.md
}

// Chapter is the exercise's chapter: "ch04".
func (e Exercise) Chapter() string { return path.Base(e.Page)[:4] }

// Holds reports whether a file (slash-separated, relative to the repository
// root) is chapter code that may hold exercises: a chapter's Go code (not
// its tests) or a Python counterpart. Test files are left alone, so a test's
// own fixtures are never taken for exercises.
func Holds(rel string) bool {
	dir, file := path.Split(rel)
	switch {
	case strings.HasSuffix(file, "_test.go"):
		return false
	case strings.HasSuffix(file, ".go"):
		return sharedChapter(dir) != "" || regexp.MustCompile(`^ch\d\d-[\w-]+/$`).MatchString(dir)
	case strings.HasSuffix(file, ".py"):
		return dir == "python/" && regexp.MustCompile(`^ch\d\d_`).MatchString(file)
	}
	return false
}

// Find lists the exercises in the course at root, in file order.
func Find(root string) ([]Exercise, error) {
	var out []Exercise
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "docs" || rel == "python/tests") {
				return filepath.SkipDir
			}
			return nil
		}
		if !Holds(rel) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lang := "go"
		if strings.HasSuffix(rel, ".py") {
			lang = "python"
		}
		for _, name := range Names(data) {
			out = append(out, Exercise{Name: name, File: rel, Lang: lang, Page: Page(rel)})
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, err
}

// Page is the book page of the chapter a file belongs to.
func Page(rel string) string {
	dir, file := path.Split(rel)
	if dir == "python/" {
		return exercise.Page(file)
	}
	if ch := sharedChapter(dir); ch != "" {
		return exercise.Page(ch)
	}
	return exercise.Page(path.Base(dir))
}

// sharedChapter is, for a shared package that holds an exercise
// ("internal/serve/"), the chapter that teaches it (exercise.Shared), and ""
// for any other directory.
func sharedChapter(dir string) string {
	name, ok := strings.CutPrefix(dir, "internal/")
	if !ok {
		return ""
	}
	return exercise.Shared[strings.TrimSuffix(name, "/")]
}

// Names lists the exercise regions of a file, in order.
func Names(src []byte) []string {
	var names []string
	for _, line := range strings.Split(string(src), "\n") {
		if m := beginRE.FindStringSubmatch(line); m != nil {
			names = append(names, m[3])
		}
	}
	return names
}

// File returns the stubbed version of a course file (see Holds) and the
// exercises it stubbed. Other files come back unchanged.
func File(rel string, src []byte) ([]byte, []string, error) {
	if !Holds(rel) {
		return src, nil, nil
	}
	if strings.HasSuffix(rel, ".py") {
		out, names := Python(src)
		return out, names, nil
	}
	return Go(src)
}

// Python replaces each exercise region of a Python file with a TODO comment
// (after "pass", so that the block stays valid), or with the comment and a
// neutral line where the exercise has one. Like a Go stub it never raises:
// the grading tests, marked @pytest.mark.exercise, fail while the comment is
// there (python/tests/conftest.py, which adds the page where the exercise is
// taught), and nothing else does.
func Python(src []byte) ([]byte, []string) {
	return replace(src, "#", func(name string) []string {
		todo := "# TODO(" + name + "): not done yet"
		if line, ok := neutralPython[name]; ok {
			return []string{todo, line}
		}
		return []string{"pass  " + todo}
	})
}

// replace replaces the lines between each exercise anchor pair with the
// lines stubFor returns (indented as the ANCHOR line), keeping the anchors so
// the book's includes still resolve.
func replace(src []byte, comment string, stubFor func(name string) []string) ([]byte, []string) {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 1<<20)
	var names []string
	inside := ""
	for sc.Scan() {
		line := sc.Text()
		if inside != "" {
			if m := endRE.FindStringSubmatch(line); m != nil && m[2] == inside {
				out.WriteString(line + "\n")
				inside = ""
			}
			continue
		}
		out.WriteString(line + "\n")
		if m := beginRE.FindStringSubmatch(line); m != nil && m[2] == comment {
			inside = m[3]
			names = append(names, inside)
			for _, l := range stubFor(inside) {
				out.WriteString(m[1] + l + "\n")
			}
		}
	}
	return out.Bytes(), names
}

// Go replaces each exercise region of a Go file with a call to
// exercise.TODO, and a return of zero values where the region ends a
// function with results. Imports that only the solutions used are removed,
// the exercise package is imported, and the file is formatted.
func Go(src []byte) ([]byte, []string, error) {
	fset := token.NewFileSet()
	orig, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	// Where each exercise region begins and ends.
	begins, ends := map[string]token.Pos{}, map[string]token.Pos{}
	for _, cg := range orig.Comments {
		for _, c := range cg.List {
			if m := beginRE.FindStringSubmatch(c.Text); m != nil {
				begins[m[3]] = c.Pos()
			} else if m := endRE.FindStringSubmatch(c.Text); m != nil {
				ends[m[2]] = c.Pos()
			}
		}
	}
	results := map[string][]ast.Expr{} // the result types a stub must return
	for name, b := range begins {
		if _, ok := ends[name]; !ok {
			return nil, nil, fmt.Errorf("ANCHOR: %s has no ANCHOR_END", name)
		}
		results[name] = resultsIfLast(orig, b, ends[name])
	}
	stubbed, names := replace(src, "//", func(name string) []string {
		lines := []string{fmt.Sprintf("exercise.TODO(%q)", name)}
		if ret, ok := neutral[name]; ok && len(results[name]) > 0 {
			lines = append(lines, ret)
		} else if rs := results[name]; len(rs) > 0 {
			zeros := make([]string, len(rs))
			for i, r := range rs {
				zeros[i] = zero(r, src, fset)
			}
			lines = append(lines, "return "+strings.Join(zeros, ", "))
		}
		return lines
	})
	if len(names) == 0 {
		return src, nil, nil
	}
	stubbed = append(stubbed, keepImport...)
	out, err := fixImportsWith(stubbed, fset, true)
	if err != nil {
		return nil, nil, err
	}
	return out, names, nil
}

// keepImport ends a stubbed Go file, so that replacing the last stub does
// not leave an unused import (a compile error in Go).
const keepImport = `
// The starter's stubs call exercise.TODO. This line keeps the import in use
// once you have replaced them all; then delete both.
var _ = exercise.TODO
`

// neutral is, for some exercises, the return a stub makes instead of zero
// values: what the program did before the exercise, where zero values would
// break the rest of the chapter (a listener that hands out nil connections,
// a TLS connection never handshaken, a frame reader that returns nothing
// forever).
var neutral = map[string]string{
	"exercise-limit-listener": "return l.Listener.Accept()",
	"exercise-max-conns":      "return l.Listener.Accept() // no limit yet",
}

// neutralPython is neutral for the Python exercises: what the function
// returns before the exercise is done.
var neutralPython = map[string]string{
	"exercise-quit-py": "return False  # no QUIT yet: an ordinary line",
}

// resultsIfLast returns the result types of the innermost function around
// [begin, end] if the region holds that function's last statement: removing
// it would leave "missing return". Otherwise it returns nil.
func resultsIfLast(f *ast.File, begin, end token.Pos) []ast.Expr {
	var typ *ast.FuncType
	var body *ast.BlockStmt
	ast.Inspect(f, func(node ast.Node) bool {
		switch fn := node.(type) {
		case *ast.FuncDecl:
			if fn.Body != nil && fn.Body.Lbrace < begin && end < fn.Body.Rbrace {
				typ, body = fn.Type, fn.Body
			}
		case *ast.FuncLit:
			if fn.Body.Lbrace < begin && end < fn.Body.Rbrace {
				typ, body = fn.Type, fn.Body // nested: the innermost wins
			}
		}
		return true
	})
	if body == nil || typ.Results == nil || len(body.List) == 0 {
		return nil
	}
	last := body.List[len(body.List)-1]
	if !(begin < last.Pos() && last.End() <= end) {
		return nil
	}
	var out []ast.Expr
	for _, field := range typ.Results.List {
		for range max(1, len(field.Names)) {
			out = append(out, field.Type)
		}
	}
	return out
}

// zero writes the zero value of a result type as a student would.
func zero(typ ast.Expr, src []byte, fset *token.FileSet) string {
	text := string(src[fset.Position(typ.Pos()).Offset:fset.Position(typ.End()).Offset])
	switch t := typ.(type) {
	case *ast.Ident:
		switch t.Name {
		case "string":
			return `""`
		case "bool":
			return "false"
		case "error", "any":
			return "nil"
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
			"uintptr", "byte", "rune", "float32", "float64", "complex64", "complex128":
			return "0"
		}
	case *ast.StarExpr, *ast.ArrayType, *ast.MapType, *ast.ChanType, *ast.FuncType, *ast.InterfaceType:
		if at, ok := t.(*ast.ArrayType); !ok || at.Len == nil {
			return "nil"
		}
	case *ast.SelectorExpr:
		if text == "time.Duration" {
			return "0"
		}
	}
	return "*new(" + text + ")" // any other named type
}

// fixImportsWith rewrites the imports of a file whose exercise regions were
// replaced: those only the solutions used go, the exercise package comes in
// (with stubs, for their exercise.TODO calls), standard library first and
// then the rest, as goimports groups them. The file is formatted.
func fixImportsWith(src []byte, fset *token.FileSet, stubs bool) ([]byte, error) {
	f, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	if !stubs && len(f.Imports) == 0 {
		return format.Source(src)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(node ast.Node) bool {
		if sel, ok := node.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	var std, other []string
	if stubs {
		other = append(other, strconv.Quote(ImportPath))
	}
	begin, end := -1, -1
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		if begin < 0 {
			begin = fset.Position(gd.Pos()).Offset
		}
		end = fset.Position(gd.End()).Offset
		for _, spec := range gd.Specs {
			is := spec.(*ast.ImportSpec)
			p, _ := strconv.Unquote(is.Path.Value)
			name := importName(p)
			line := is.Path.Value
			if is.Name != nil {
				name = is.Name.Name
				line = name + " " + line
			}
			switch {
			case stubs && p == ImportPath || !(used[name] || name == "_" || name == "."):
			case strings.Contains(strings.Split(p, "/")[0], "."):
				other = append(other, line)
			default:
				std = append(std, line)
			}
		}
	}
	var decl strings.Builder
	decl.WriteString("import (\n")
	for _, group := range [][]string{std, other} {
		if len(group) > 0 && decl.Len() > len("import (\n") {
			decl.WriteString("\n")
		}
		for _, l := range group {
			decl.WriteString("\t" + l + "\n")
		}
	}
	decl.WriteString(")")
	var out []byte
	if begin < 0 { // no imports yet: after the package clause
		at := fset.Position(f.Name.End()).Offset
		out = []byte(string(src[:at]) + "\n\n" + decl.String() + string(src[at:]))
	} else {
		out = []byte(string(src[:begin]) + decl.String() + string(src[end:]))
	}
	return format.Source(out)
}

// importName is the package name an import path declares by convention:
// its last element, without a major-version suffix (".../v3", "yaml.v3").
func importName(p string) string {
	parts := strings.Split(p, "/")
	name := parts[len(parts)-1]
	if len(parts) > 1 && regexp.MustCompile(`^v[0-9]+$`).MatchString(name) {
		name = parts[len(parts)-2]
	}
	if i := strings.Index(name, ".v"); i > 0 {
		name = name[:i]
	}
	return strings.ReplaceAll(name, "-", "_")
}

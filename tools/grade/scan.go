package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// gradingTests finds, without running anything, the Go tests that grade an
// exercise: the top-level Test functions of each package (by directory,
// relative to dir) that call exercise.Graded or name one of the exercises
// (a string "exercise-NAME", handed to a helper that grades it), directly
// or through the helpers and variables declared in the package's test files.
//
// The exercise a test grades is still read from its run (it logs "grades
// exercise-NAME"): the scan only decides which tests to run.
func gradingTests(dir string, exercises map[string]bool) (map[string][]string, error) {
	type pkg struct {
		calls map[string][]string // function or variable -> the names it uses
		seed  map[string]bool     // functions and variables that grade
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != dir && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, filepath.Dir(p))
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel) + " " + f.Name.Name // package_test is its own package
		pk := pkgs[key]
		if pk == nil {
			pk = &pkg{calls: map[string][]string{}, seed: map[string]bool{}}
			pkgs[key] = pk
		}
		// inspect records what the declaration named name uses, and whether
		// it grades by itself.
		inspect := func(name string, body ast.Node) {
			ast.Inspect(body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "exercise" && n.Sel.Name == "Graded" {
						pk.seed[name] = true
					}
				case *ast.BasicLit:
					if n.Kind == token.STRING && exercises[strings.Trim(n.Value, "`\"")] {
						pk.seed[name] = true
					}
				case *ast.Ident:
					pk.calls[name] = append(pk.calls[name], n.Name)
				}
				return true
			})
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Body != nil && d.Recv == nil {
					inspect(d.Name.Name, d.Body)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if v, ok := spec.(*ast.ValueSpec); ok {
						for _, id := range v.Names {
							inspect(id.Name, v)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for key, pk := range pkgs {
		// Grow the set of grading functions until no function names one
		// that is not in it yet: a test calling a helper that grades.
		for changed := true; changed; {
			changed = false
			for fn, names := range pk.calls {
				if pk.seed[fn] {
					continue
				}
				for _, n := range names {
					if pk.seed[n] {
						pk.seed[fn], changed = true, true
						break
					}
				}
			}
		}
		d := strings.Fields(key)[0]
		for fn := range pk.seed {
			if isTestFunc(fn) {
				out[d] = append(out[d], fn)
			}
		}
	}
	for d := range out {
		slices.Sort(out[d])
		out[d] = slices.Compact(out[d]) // x and x_test in one directory
	}
	return out, nil
}

// isTestFunc reports whether name is a Go test function's name: Test, then
// nothing or a character that is not a lower-case letter.
func isTestFunc(name string) bool {
	rest, ok := strings.CutPrefix(name, "Test")
	return ok && (rest == "" || !(rest[0] >= 'a' && rest[0] <= 'z'))
}

// Command mutate-report summarises gremlins' JSON results (one file per
// package, written by scripts/mutate.sh) as the Markdown table of
// docs/src/contributing/mutation.md, followed by every surviving mutant.
//
// Score: mutants the tests detected (killed, or made the tests time out)
// over the mutants the tests ran (detected + lived). Mutants in code no
// test reaches ("not covered") and mutants that do not compile ("not
// viable") are counted but not scored.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type result struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mutate-report RESULT.json...")
		os.Exit(2)
	}
	var lived []string
	var tot [5]int
	fmt.Println("| package | killed | timed out | lived | not covered | not viable | score |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, path := range os.Args[1:] {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mutate-report:", err)
			os.Exit(1)
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintf(os.Stderr, "mutate-report: %s: %v\n", path, err)
			os.Exit(1)
		}
		pkg := strings.TrimSuffix(filepath.Base(path), ".json")
		var n [5]int // killed, timed out, lived, not covered, not viable
		for _, f := range r.Files {
			for _, m := range f.Mutations {
				switch m.Status {
				case "KILLED":
					n[0]++
				case "TIMED OUT":
					n[1]++
				case "LIVED":
					n[2]++
					lived = append(lived, fmt.Sprintf("%s/%s:%d:%d %s", pkg, f.FileName, m.Line, m.Column, m.Type))
				case "NOT COVERED":
					n[3]++
				case "NOT VIABLE":
					n[4]++
				}
			}
		}
		for i := range n {
			tot[i] += n[i]
		}
		fmt.Printf("| %s | %d | %d | %d | %d | %d | %s |\n", pkg, n[0], n[1], n[2], n[3], n[4], score(n))
	}
	fmt.Printf("| all | %d | %d | %d | %d | %d | %s |\n", tot[0], tot[1], tot[2], tot[3], tot[4], score(tot))
	if len(lived) > 0 {
		fmt.Println("\nLived:")
		for _, l := range lived {
			fmt.Println("-", l)
		}
	}
}

func score(n [5]int) string {
	ran := n[0] + n[1] + n[2]
	if ran == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(n[0]+n[1])/float64(ran))
}

// Package conventions has no code of its own: its test holds the course to
// the conventions table in CONTRIBUTING.md. It builds every chapter program,
// reads the -h of the program and of each of its commands, does the same for
// the Python twin (python/chNN_*.py), and fails on
//
//   - a flag named against the table (-drain instead of -drain-timeout,
//     -servername, -idle, -delay, ...), or of the wrong type or default;
//   - a flag or option without help text, or whose help words its concept
//     another way than the table (or, for a name outside it, than the other
//     programs that use the name): one wording per concept, in every
//     chapter and both languages, optionally followed by "; " and a remark
//     of the program's own (TestOneWordingPerConcept);
//   - a Python option that takes seconds where Go takes a duration ("5s");
//   - a Go flag with no Python twin, or a Python option with no Go twin,
//     in a command both languages have (unless listed as one language's own);
//   - a Python command Go does not have, or a different default command.
//
// CONTRIBUTING.md's table and the names table here list the same flags
// with the same wordings (TestTableMatchesContributing). To add a flag that
// follows the table, add nothing. To add a concept, add a row to
// CONTRIBUTING.md and to the names table in conventions_test.go.
package conventions

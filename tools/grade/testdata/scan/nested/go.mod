module example.com/c/nested

go 1.26

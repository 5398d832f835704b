package syscalls

//go:generate go run ../../tools/gensyscalls

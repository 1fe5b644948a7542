package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/funnelwatch/funnelwatch/regulations"
)

// runCheck validates a regulations file and prints every error with its
// line and key.
func runCheck(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageErr("want exactly one FILE")
	}
	path := args[0]
	regs, err := regulations.ParseFile(path)
	var errs regulations.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintf(stdout, "%s: %s\n", path, e.Error())
		}
		return fmt.Errorf("%s: %d error(s)", path, len(errs))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK — %s: %d pipelines, %d stages, %d users, %d automations, %d quality rules\n",
		path, regs.Company, len(regs.Pipelines), countStages(regs), len(regs.Users), len(regs.Automations), len(regs.Quality))
	return nil
}

func countStages(r *regulations.Regulations) int {
	n := 0
	for _, p := range r.Pipelines {
		n += len(p.Stages)
	}
	return n
}

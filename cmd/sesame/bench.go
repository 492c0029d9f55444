package main

import "github.com/spf13/cobra"

// benchCmd is the load generator (being written).
func (e *env) benchCmd() *cobra.Command {
	return &cobra.Command{Use: "bench", Short: "Load generator (not yet available)", Hidden: true}
}

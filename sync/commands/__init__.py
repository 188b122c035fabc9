"""The command line's commands, one module each; `registry.COMMANDS` lists them for
`sync.cli`."""

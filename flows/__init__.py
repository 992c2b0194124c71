"""The storywire application: message schema, run config, the Bytewax dataflow, connectors and CLI.

Entry points: `flows.cli.main` (the `storywire` command) and
`flows.runner.run(config)`; `flows.dataflow.build_flow` wires the steps.
"""

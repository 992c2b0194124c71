"""The storywire service: message schema, run config, the Bytewax dataflow, its connectors, sinks and monitoring.

Entry points: `flows.runner.run(config)` runs the flow; `flows.dataflow.build_flow` wires the steps.
The `storywire` command (commands/) and the tools (evaluation/, training/, admin/) call into it; it never imports them.
"""

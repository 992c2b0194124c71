"""The `storywire` command line: argument parsing and one call per subcommand into the job's own module
(flows.runner for the service, evaluation/, training/, admin/, export/, abtest/, service/)."""

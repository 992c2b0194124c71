"""Operating a deployment from the command line: Kafka topics (create, follow, tail), producing an archive to the
articles topic, and re-driving dead letters after a fix.

Tools around the service: they import flows/ (the Kafka settings and the connectivity check); flows/ never imports them.
"""

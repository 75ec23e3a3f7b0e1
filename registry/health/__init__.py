"""Health and readiness: what a load balancer, an orchestrator or an operator asks the app."""

"""What every function's FastAPI app shares: how it is built and wrapped for
Lambda, its error responses, request parameters, list headers, dependencies
and the health route."""

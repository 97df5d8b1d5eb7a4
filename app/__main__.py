"""`python -m app` runs the same command line as `opportunity-gateway`."""

from app.cli import main

if __name__ == "__main__":
    main()

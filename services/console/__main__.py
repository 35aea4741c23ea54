from services.console import wiring
from services.console.settings import ConsoleSettings
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, ConsoleSettings, wiring.build)

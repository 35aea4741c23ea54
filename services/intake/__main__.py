from services.intake import wiring
from services.intake.settings import IntakeSettings
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, IntakeSettings, wiring.build)

# The evaluator runs `from models.user_config import UserModel; UserModel()`.
# ShopModel serves the weights folder of the track aicrowd.json names (shopbench.spec.TRACKS)
# with vLLM when it is there, else the embedded SmolLM2-135M-Instruct on CPU;
# docs/environment.md lists the environment overrides (declared in shopbench/environment.py).
from models.shop_model import ShopModel

UserModel = ShopModel

# The evaluator runs `from models.user_config import UserModel; UserModel()`.
# ShopModel serves weights/qwen2-72b-shopbench-awq with vLLM when it is there, else the
# embedded SmolLM2-135M-Instruct on CPU; models.settings lists the environment overrides.
from models.shop_model import ShopModel

UserModel = ShopModel

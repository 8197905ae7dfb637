int main(){ { 6, 0, 0, 0 }, }
